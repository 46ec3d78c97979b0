"""The simulated OpenAI-compatible upstream (`gateway sim`).

Every test, benchmark and the demo run against it, and users run it to try the gateway without keys: it answers
chat completions (streaming or not, tools, JSON modes, `n`), embeddings and model listings in OpenAI's exact format,
with true token usage, a per-model latency model, replayed real answers, simulated prompt caching and injectable
faults. See `app.py` for the routes.
"""

from .app import build_sim_app
from .options import FAULT_NAMES, SimOptions
from .runner import add_sim_arguments, options_from_args, run_sim_from_args

__all__ = ["FAULT_NAMES", "SimOptions", "add_sim_arguments", "build_sim_app", "options_from_args",
           "run_sim_from_args"]
