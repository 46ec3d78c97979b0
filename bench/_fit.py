"""What the scripts that fit a shipped data file share: where they read, what they may overwrite, and how.

They run as plain scripts (`python bench/fit_*.py`), so importing this first puts the repository on the path and
points tiktoken at the shared cache when one is there (the fit counts tokens, and a machine without network must
not hang on a vocabulary download). A run without `--write` only prints the table, to see what a fit would change
before the shipped file does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
if "TIKTOKEN_CACHE_DIR" not in os.environ and (REPO.parent / "shared" / "tiktoken-cache").is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(REPO.parent / "shared" / "tiktoken-cache")


def fit_arguments(doc: str, out: Path) -> argparse.Namespace:
    """`--data` (the data folder) and `--write` (replace `out`); the description is the script's docstring's
    first paragraph, so the help and the module say the same thing."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("GATEWAY_DATA_DIR", REPO.parent / "shared" / "data")))
    parser.add_argument("--write", action="store_true", help=f"write {out.relative_to(REPO)}")
    return parser.parse_args()


def write_fit(out: Path, fitted: dict[str, Any]) -> None:
    """Replace the shipped file: indented JSON with a final newline, so a refit that changes nothing shows no diff."""
    out.write_text(json.dumps(fitted, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
