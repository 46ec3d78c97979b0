"""Task type from the words of the last turn: a transparent keyword vote, not a model.

Why words and not regexes: one pass of word lookups over the instruction window costs a few microseconds, while
dozens of case-insensitive regexes over the same text cost hundreds. The vote keeps its evidence so `policy explain`
can show why a request was typed the way it was. `follow_up` is decided by the analyzer, which knows the dependency.
"""

from __future__ import annotations

import re

from gateway.analysis.text import has_code, words

# word -> (task type, weight); a type's score is the sum of its distinct matched words.
_LEXICON: dict[str, tuple[str, float]] = {}


def _add(task: str, weight: float, *keys: str) -> None:
    for key in keys:
        _LEXICON[key] = (task, weight)


_add("summarization", 3.0, "summarize", "summarise", "summarized", "summarised", "summarizing", "summarising",
     "summary", "summaries", "summarization", "tldr", "tl;dr", "synopsis")
_add("summarization", 2.0, "condense", "recap", "gist", "takeaways")
_add("extraction", 3.0, "extract", "extracting", "extraction")
_add("extraction", 1.5, "entities", "entity", "ner")
_add("extraction", 0.7, "keywords", "parse", "fields")
_add("classification", 3.0, "classify", "classification", "categorize", "categorise", "categorization", "sentiment")
_add("classification", 1.2, "spam", "intent", "toxic", "offensive", "sarcastic", "category", "categories", "label")
_add("classification", 0.7, "positive", "negative", "neutral")
_add("translation", 3.5, "translate", "translated", "translating", "translation", "translations", "translator")
_add("translation", 1.0, "english", "french", "spanish", "german", "chinese", "japanese", "korean", "italian",
     "portuguese", "russian", "arabic", "hindi", "dutch", "swedish", "polish", "turkish", "vietnamese", "mandarin",
     "greek", "hebrew", "latin", "ukrainian", "indonesian", "thai", "persian")
_add("rewriting", 3.0, "rewrite", "rewriting", "re-write", "rephrase", "paraphrase", "reword", "proofread",
     "rework", "revise", "reformulate", "shorten", "polish")
_add("rewriting", 1.2, "grammar", "typos", "spelling", "punctuation", "formal", "concise", "edit", "improve", "tone")
_add("code_generation", 1.5, "python", "javascript", "typescript", "java", "c++", "c#", "golang", "rust", "ruby", "php",
     "sql", "bash", "html", "css", "react", "node.js", "nodejs", "django", "flask", "kotlin", "swift", "scala",
     "haskell", "matlab", "powershell", "regex", "vba", "pandas", "numpy", "docker", "kubernetes", "typescript",
     "jquery", "vue", "angular", "cpp", "shell", "linux", "unix", "api", "json", "yaml", "git")
_add("code_generation", 1.0, "function", "functions", "class", "method", "program", "code", "coding", "snippet",
     "endpoint", "algorithm", "implementation", "query", "bug", "error", "exception", "compile", "compiler",
     "library", "module", "repository", "variable", "array", "loop", "recursion", "recursive", "script",
     "database", "runtime", "syntax", "framework", "backend", "frontend")
_add("code_generation", 2.5, "implement", "debug", "refactor", "traceback", "stacktrace", "segfault")
_add("math", 1.5, "solve", "calculate", "compute", "equation", "equations", "integral", "derivative", "probability",
     "theorem", "polynomial", "algebra", "calculus")
_add("math", 1.0, "matrix", "eigenvalue", "logarithm", "factorial", "prime", "fraction", "percentage", "percent",
     "geometry", "triangle", "circle", "area", "perimeter", "volume", "radius", "inequality", "sqrt", "modulo",
     "sum", "average", "median", "ratio", "divisible", "integer", "integers", "digits", "prove", "proof", "vertices")
_add("reasoning", 2.5, "riddle", "puzzle", "logic", "logical", "deduce", "deduction", "paradox", "syllogism")
_add("reasoning", 1.0, "reasoning", "reason", "infer", "compare", "contrast", "tradeoffs", "trade-offs", "pros",
     "cons", "evaluate", "analyze", "analyse", "analysis", "assess", "critique", "argument", "implications",
     "consequences", "uncertain", "statement", "statements", "conclusion", "evidence")
_add("creative_writing", 2.5, "story", "stories", "poem", "poems", "poetry", "song", "lyrics", "haiku", "limerick",
     "sonnet", "fiction", "narrative", "screenplay", "rap", "verse", "rhyme", "rhymes", "novel", "fairy", "fable")
_add("creative_writing", 1.0, "essay", "blog", "article", "email", "letter", "speech", "tweet", "slogan", "tagline",
     "joke", "jokes", "advertisement", "bio", "caption", "headline", "pitch", "toast", "dialogue", "imagine",
     "pretend", "roleplay", "role-play", "character", "characters", "plot", "creative", "persuasive", "catchy")
_add("open_question", 1.0, "explain", "describe", "define", "difference", "meaning", "history", "advice", "recommend")

_CREATE_VERBS = frozenset(("write", "create", "generate", "compose", "draft", "craft", "make", "produce", "build",
                           "develop", "design", "implement", "code", "program", "give", "provide", "prepare"))
_OBJECTS: dict[str, str] = {}
for _obj in ("function", "functions", "class", "method", "program", "code", "api", "endpoint", "query", "component",
             "app", "application", "website", "webpage", "bot", "algorithm", "regex", "test", "tests", "module",
             "library", "cli", "server", "schema", "implementation", "snippet", "macro", "dockerfile"):
    _OBJECTS[_obj] = "code_generation"
for _obj in ("story", "poem", "song", "lyrics", "haiku", "limerick", "sonnet", "essay", "blog", "post", "article",
             "email", "letter", "speech", "dialogue", "tweet", "slogan", "tagline", "joke", "rap", "ad",
             "advertisement", "description", "bio", "caption", "headline", "outline", "pitch", "proposal", "toast",
             "novel", "chapter", "scene", "eulogy", "limericks", "poems", "stories", "jokes", "narrative", "tale",
             "review", "message", "invitation", "announcement", "script", "conversation", "riddle", "verse"):
    _OBJECTS[_obj] = "creative_writing"
_OBJECTS["summary"] = "summarization"
_OBJECTS["translation"] = "translation"
_OBJECTS["proof"] = "math"

_QUESTION_START = frozenset(("what", "who", "when", "where", "why", "how", "which", "is", "are", "can", "could",
                             "do", "does", "did", "should", "would", "will", "whats", "what's", "explain", "describe",
                             "tell"))
_MATH_EXPR = re.compile(r"\d\s*[-+*/^×÷=<>]\s*[\d(x-z]|\b[a-z]\s*[=<>]\s*-?\d|\\frac|\\sqrt|\\int|\bf\([a-z]\)|\|\s*x")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![.)]\s)")  # not list markers ("1. ", "2) ")
_CODE_LANG_HINT = frozenset(("python", "javascript", "typescript", "java", "sql", "bash", "html", "css", "react",
                             "c++", "golang", "rust", "php", "ruby", "kotlin", "swift", "node.js", "powershell"))

HEAD_WORDS = 40  # words in the opening instruction count more


def classify(lowered: str, text: str) -> tuple[str, float, list[str], dict[str, float]]:
    """(task type, confidence 0..1, the evidence words, all scores) for the lowered instruction window."""
    tokens = words(lowered)
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    seen: set[str] = set()
    for position, word in enumerate(tokens):
        hit = _LEXICON.get(word)
        if hit is not None and word not in seen:
            seen.add(word)
            task, weight = hit
            if position < HEAD_WORDS:
                weight *= 1.5
            scores[task] = scores.get(task, 0.0) + weight
            evidence.setdefault(task, []).append(word)
        if word in _CREATE_VERBS and position < 200:
            for obj in tokens[position + 1:position + 6]:
                task = _OBJECTS.get(obj)
                if task is not None:
                    bonus = 3.5 if position < HEAD_WORDS else 2.0
                    if obj == "script" and _CODE_LANG_HINT.intersection(tokens):
                        task = "code_generation"
                    scores[task] = scores.get(task, 0.0) + bonus
                    evidence.setdefault(task, []).append(f"{word} {obj}")
                    break
    _structure(lowered, text, tokens, scores, evidence)
    return _decide(scores, evidence)


def _structure(lowered: str, text: str, tokens: list[str], scores: dict[str, float],
               evidence: dict[str, list[str]]) -> None:
    """Non-lexical evidence: code in the turn, arithmetic, the shape of a question."""
    if has_code(text):
        scores["code_generation"] = scores.get("code_generation", 0.0) + 2.0
        evidence.setdefault("code_generation", []).append("code block")
    numbers = len(_NUMBER.findall(lowered, 0, 2000))
    if _MATH_EXPR.search(lowered, 0, 2000):
        scores["math"] = scores.get("math", 0.0) + 2.0
        evidence.setdefault("math", []).append("expression")
    if numbers >= 2 and ("how many" in lowered or "how much" in lowered):
        scores["math"] = scores.get("math", 0.0) + 1.5
        evidence.setdefault("math", []).append(f"{numbers} numbers")
    if tokens and (tokens[0] in _QUESTION_START or lowered.rstrip().endswith("?")):
        scores["open_question"] = scores.get("open_question", 0.0) + 1.5
        evidence.setdefault("open_question", []).append("question form")


def _decide(scores: dict[str, float], evidence: dict[str, list[str]]) -> tuple[str, float, list[str],
                                                                                 dict[str, float]]:
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    if not ranked or ranked[0][1] < 1.5:
        return "open_question", 0.4, evidence.get("open_question", []), scores
    best, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (top - second) / top
    confidence = min(0.95, 0.45 + 0.06 * top) * (0.55 + 0.45 * margin)
    return best, round(confidence, 3), evidence.get(best, []), scores
