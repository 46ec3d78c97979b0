"""Prompt features for the difficulty model: a bag of words plus a few text statistics.

The router runs on every request, so features are built from C-level string operations only (bytes translate,
split, count) on a window of the prompt (its head and tail, where instructions and questions sit), never a Python
loop over characters. Training and inference both call `extract`, so the model
sees exactly the features it was trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HEAD_CHARS = 1200
TAIL_CHARS = 800

# Bytes kept inside words: ASCII letters, digits (all mapped to '0', so numbers become shapes such as '000') and
# every non-ASCII byte (other scripts stay whole words); everything else separates words.
_KEEP = set(b"abcdefghijklmnopqrstuvwxyz")
_WORD_TABLE = bytes(c if c in _KEEP or c >= 128 else (ord("0") if 48 <= c <= 57 else 32) for c in range(256))
_DIGITS = b"0123456789"

# Task cue words: a small hand-written lexicon, so a pattern seen in one set (code is hard for small models) carries
# over to prompts whose exact words the training data never had.
LEXICON = {
    "cue_code": "code function python javascript java sql class def return import compile bug error debug script "
                "api regex html css json array algorithm implement program typescript bash linux query database "
                "loop variable string int recursion",
    "cue_math": "calculate compute solve equation integral derivative probability prove proof theorem matrix sum "
                "percent ratio sqrt log formula expression polynomial prime integer divisible average total",
    "cue_reasoning": "why explain reason reasoning analyze analyse compare step logic puzzle riddle implies "
                     "therefore consequence evaluate argument critique difference",
    "cue_creative": "poem story write essay song lyrics haiku joke creative imagine letter email slogan tweet blog "
                    "poetry fiction character dialogue rap",
    "cue_factual": "what who when where capital name define meaning definition list fact famous",
    "cue_constraints": "must exactly only without format words sentences least most limit each include ensure "
                       "following style tone",
}
_LEXICON_SETS = tuple(frozenset(words.encode().split()) for words in LEXICON.values())

# Text statistics, in the order of PromptFeatures.stats.
STAT_NAMES = ("log_chars", "log_lines", "log_words", "digit_frac", "math_ops", "latex", "code", "questions",
              "multiple_choice", "ends_question", "non_ascii", "list_items", *LEXICON)
# How each statistic reads in reasons when it is high / low for a prompt.
STAT_LABELS = {
    "log_chars": ("long", "short"), "log_lines": ("many lines", "few lines"),
    "log_words": ("many distinct words", "few distinct words"), "digit_frac": ("many digits", "few digits"),
    "math_ops": ("math symbols", "no math symbols"), "latex": ("LaTeX", "no LaTeX"), "code": ("code", "no code"),
    "questions": ("several questions", "no question mark"),
    "multiple_choice": ("answer options", "no answer options"),
    "ends_question": ("ends with a question", "no closing question"),
    "non_ascii": ("non-English text", "English text"), "list_items": ("a list", "no list"),
    "cue_code": ("programming words", "no programming words"), "cue_math": ("math words", "no math words"),
    "cue_reasoning": ("reasoning words", "no reasoning words"),
    "cue_creative": ("creative-writing words", "no creative-writing words"),
    "cue_factual": ("factual-question words", "no factual-question words"),
    "cue_constraints": ("explicit constraints", "no explicit constraints"),
}


@dataclass(frozen=True)
class PromptFeatures:
    words: frozenset[bytes]
    stats: tuple[float, ...]


def window(text: str) -> str:
    """The head and tail of a long prompt; the whole of a short one."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def extract(text: str) -> PromptFeatures:
    part = window(text)
    raw = part.encode("utf-8", "surrogatepass")
    words = frozenset(raw.lower().translate(_WORD_TABLE).split())
    n = max(len(part), 1)
    digits = _count(raw, _DIGITS)
    math_ops = _count(raw, b"=+^*<")
    code = _count(raw, b"{;") + 4 * raw.count(b"```") + raw.count(b"def ") + raw.count(b"()")
    tail = text.rstrip()[-1:]
    stats = (
        math.log1p(len(text)),
        math.log1p(text.count("\n")),
        math.log1p(len(words)),
        digits / n,
        math.log1p(math_ops),
        math.log1p(_count(raw, b"\\$")),
        math.log1p(code),
        math.log1p(raw.count(b"?")),
        float("\nA." in part and "\nB." in part or "\n(A)" in part and "\n(B)" in part),
        float(tail == "?"),
        (len(raw) - len(part)) / n,
        math.log1p(part.count("\n-") + part.count("\n*") + part.count("\n1.") + part.count("\n2.")),
        *(math.log1p(len(words & cue)) for cue in _LEXICON_SETS),
    )
    return PromptFeatures(words, stats)


def _count(raw: bytes, chars: bytes) -> int:
    """Occurrences of any of `chars` (ASCII) in one C-level pass; ASCII bytes never occur inside UTF-8 sequences."""
    return len(raw) - len(raw.translate(None, chars))


def word_scale(features: PromptFeatures) -> float:
    """Word presence features are L2-normalized: a long prompt's many words do not add up to extra difficulty."""
    return 1.0 / math.sqrt(max(len(features.words), 1))


_UPPER = np.triu_indices(len(STAT_NAMES))
Z_LIMIT = 4.0  # standardized statistics are clipped: a rare feature (a long non-English prompt) cannot dominate


def standardize(stats: tuple[float, ...] | np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum((np.asarray(stats, dtype=float) - mean) / std, -Z_LIMIT), Z_LIMIT)


def quadratic_form(weights: np.ndarray, interactions: bool) -> tuple[np.ndarray, np.ndarray]:
    """(v, M) with stat_vector(s) @ weights == z @ v + z @ M @ z for z = standardize(s): the same score
    with two small products instead of building every pairwise feature on each request."""
    n = len(STAT_NAMES)
    linear, matrix = np.asarray(weights[:n], dtype=float), np.zeros((n, n))
    if interactions:
        matrix[_UPPER] = weights[n:]
        matrix = (matrix + matrix.T) / 2.0
    return linear, matrix


def stat_vector(stats: tuple[float, ...] | np.ndarray, mean: np.ndarray, std: np.ndarray,
                interactions: bool) -> np.ndarray:
    """Standardized statistics, plus their pairwise products when `interactions` (a long prompt means something
    else in a math word problem than in a chat request). Works on one prompt or a matrix of prompts."""
    z = standardize(stats, mean, std)
    if not interactions:
        return z
    pairs = (z[..., :, None] * z[..., None, :])[..., _UPPER[0], _UPPER[1]]
    return np.concatenate([z, pairs], axis=-1)
