"""Complexity 1-5: how capable a model the last turn needs.

A routing policy sends 1-2 to small models and keeps 4-5 on strong ones, so the score leans on evidence that
separates those: the kind of task, how much is asked (length, constraints, requirement lists) and domain markers of
hard work (proofs, system design, algorithms, multi-step arithmetic, whole applications). Greetings and short
lookups are 1. Pasted material counts only a little: summarizing a long document is not hard in itself.
"""

from __future__ import annotations

from gateway.analysis import patterns

_BASE = {"summarization": 1.0, "extraction": 1.0, "classification": 1.0, "translation": 1.0, "rewriting": 1.0,
         "creative_writing": 1.5, "open_question": 1.0, "follow_up": 1.0, "code_generation": 2.0, "math": 2.0,
         "reasoning": 2.0}
_CONSTRAINT_WORDS = frozenset(("must", "should", "without", "exactly", "only", "ensure", "avoid", "limit", "least",
                               "most", "maximum", "minimum", "require", "requirements", "constraint", "constraints",
                               "format", "include", "don't", "never", "always", "strictly", "mandatory", "within"))
_CHIT_CHAT = frozenset(("hi", "hello", "hey", "thanks", "thank", "bye", "goodbye", "morning", "evening", "cheers",
                        "ok", "okay", "cool", "great", "nice", "lol", "yes", "no", "sure"))
_PROOF = frozenset(("prove", "proof", "theorem", "lemma", "induction", "rigorous", "rigorously", "derive",
                    "derivation"))
_SYSTEMS = frozenset(("architecture", "scalable", "scalability", "distributed", "microservices", "concurrency",
                      "concurrent", "fault-tolerant", "consensus", "sharding", "throughput", "latency"))
_ALGORITHMIC = frozenset(("complexity", "asymptotic", "optimize", "optimise", "optimization", "algorithm",
                          "algorithms", "recursion", "recursive", "dynamic", "graph", "np-hard", "heuristic"))
_DEPTH = frozenset(("detailed", "comprehensive", "thorough", "in-depth", "elaborate", "nuanced", "critically",
                    "justify", "justified", "step-by-step", "trade-off", "trade-offs", "tradeoffs"))
_WHOLE_APP = patterns.compile(r"\b(?:full|complete|entire|whole|production|end-to-end|working)\b[\w\s-]{0,20}\b(?:app|"
                              r"application|website|system|game|backend|platform|service|project|program)\b")
_LIST_LINE = patterns.compile(r"\n[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]")
_NUMBER = patterns.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![.)]\s)")


def estimate(lowered: str, tokens: list[str], task_type: str, turn_tokens: int) -> tuple[int, list[str]]:
    """(complexity 1..5, reasons)."""
    reasons: list[str] = []
    if len(tokens) <= 6 and tokens and sum(1 for t in tokens if t in _CHIT_CHAT) >= max(1, len(tokens) // 2):
        return 1, ["chit-chat"]
    score = _BASE.get(task_type, 1.0)
    if turn_tokens >= 1000:
        score += 1.5
    elif turn_tokens >= 250:
        score += 1.0
    elif turn_tokens >= 60:
        score += 0.5
    word_set = set(tokens)
    constraints = sum(1 for t in tokens if t in _CONSTRAINT_WORDS)
    if constraints:
        score += min(1.2, 0.2 * constraints)
        reasons.append(f"{constraints} constraint words")
    items = len(_LIST_LINE.findall(lowered)) if "\n" in lowered else 0
    if items >= 2:
        score += min(0.8, 0.15 * items)
        reasons.append(f"{items} listed points")
    if word_set & _PROOF:
        score += 1.8
        reasons.append("proof")
    if word_set & _SYSTEMS or ("design" in word_set and "system" in word_set):
        score += 1.8
        reasons.append("system design")
    if word_set & _ALGORITHMIC and task_type in ("code_generation", "math", "reasoning"):
        score += 0.8
        reasons.append("algorithmic")
    if word_set & _DEPTH or "step by step" in lowered or "in detail" in lowered:
        score += 0.5
        reasons.append("asks for depth")
    if task_type == "math" and len(_NUMBER.findall(lowered, 0, 2000)) >= 4:  # (math turns only)
        score += 0.5
        reasons.append("multi-step arithmetic")
    if task_type == "code_generation" and _WHOLE_APP.search(lowered, 0, 2000):
        score += 1.0
        reasons.append("whole application")
    level = max(1, min(5, int(score + 0.5)))
    return level, reasons
