"""The words that vote for each task type, with their weights, in one reviewable place.

A word may vote for several types ("json" hints at extraction and at code). Weights are small integers-ish on
purpose: strong words (the verb that names the task: "translate", "summarize") are 3+, topical words are ~1.
"""

from __future__ import annotations

LEXICON: dict[str, list[tuple[str, float]]] = {}


def _add(task: str, weight: float, *keys: str) -> None:
    for key in keys:
        LEXICON.setdefault(key, []).append((task, weight))


_add("summarization", 3.0, "summarize", "summarise", "summarized", "summarised", "summarizing", "summarising",
     "summary", "summaries", "summarization", "tldr", "tl;dr", "synopsis")
_add("summarization", 2.0, "condense", "recap", "gist", "takeaways")
_add("extraction", 3.0, "extract", "extracting", "extraction")
_add("extraction", 1.5, "entities", "entity", "ner", "identify")
_add("extraction", 0.7, "keywords", "parse", "fields", "json", "mentioned", "occurrences", "appear")
_add("classification", 3.0, "classify", "classification", "categorize", "categorise", "categorization", "sentiment")
_add("classification", 1.2, "spam", "intent", "toxic", "offensive", "sarcastic", "category", "categories", "label")
_add("classification", 0.7, "positive", "negative", "neutral", "rating", "rate")
_add("translation", 3.5, "translate", "translated", "translating", "translation", "translations", "translator")
_add("translation", 1.0, "english", "french", "spanish", "german", "chinese", "japanese", "korean", "italian",
     "portuguese", "russian", "arabic", "hindi", "dutch", "swedish", "polish", "turkish", "vietnamese", "mandarin",
     "greek", "hebrew", "latin", "ukrainian", "indonesian", "thai", "persian")
_add("rewriting", 3.0, "rewrite", "rewriting", "re-write", "rephrase", "paraphrase", "reword", "proofread",
     "rework", "revise", "reformulate", "shorten", "polish")
_add("rewriting", 1.2, "grammar", "grammatical", "typos", "spelling", "punctuation", "formal", "concise", "edit",
     "improve", "tone")
_add("code_generation", 1.5, "python", "javascript", "typescript", "java", "c++", "c#", "golang", "rust", "ruby", "php",
     "sql", "bash", "html", "css", "react", "node.js", "nodejs", "django", "flask", "kotlin", "swift", "scala",
     "haskell", "matlab", "powershell", "regex", "vba", "pandas", "numpy", "docker", "kubernetes", "jquery", "vue",
     "angular", "cpp", "shell", "linux", "unix", "api", "git")
_add("code_generation", 0.5, "json", "yaml")
_add("code_generation", 1.0, "function", "functions", "class", "method", "program", "code", "coding", "snippet",
     "endpoint", "algorithm", "implementation", "query", "bug", "error", "exception", "compile", "compiler",
     "library", "module", "repository", "variable", "array", "loop", "recursion", "recursive", "script",
     "database", "runtime", "syntax", "framework", "backend", "frontend", "config", "configuration", "nginx",
     "apache", "terminal", "command", "server", "deploy", "android", "npm", "pip", "aws", "azure", "gcp", "terraform",
     "ansible", "webpack", "dockerfile", "latex", "notation", "spreadsheet", "excel", "formula")
_add("code_generation", 2.5, "implement", "debug", "refactor", "traceback", "stacktrace", "segfault")
_add("math", 1.5, "solve", "calculate", "compute", "equation", "equations", "integral", "derivative", "probability",
     "theorem", "polynomial", "algebra", "calculus", "remainder")
_add("math", 1.0, "matrix", "eigenvalue", "logarithm", "factorial", "prime", "fraction", "percentage", "percent",
     "geometry", "triangle", "circle", "area", "perimeter", "volume", "radius", "inequality", "sqrt", "modulo",
     "sum", "average", "median", "ratio", "divisible", "integer", "integers", "digits", "prove", "proof", "vertices",
     "divided", "multiplied", "total")
_add("reasoning", 2.5, "riddle", "puzzle", "logic", "logical", "deduce", "deduction", "paradox", "syllogism")
_add("reasoning", 1.0, "reasoning", "reason", "reasons", "infer", "compare", "contrast", "tradeoffs", "trade-offs",
     "pros", "cons", "evaluate", "analyze", "analyse", "analysis", "assess", "critique", "argument", "implications",
     "consequences", "uncertain", "statement", "statements", "conclusion", "evidence", "relationship", "belong",
     "direction", "facing", "clues", "explanation")
_add("creative_writing", 1.0, "story", "stories", "poem", "poems", "poetry", "song", "lyrics", "haiku", "limerick",
     "sonnet", "fiction", "narrative", "screenplay", "rap", "verse", "rhyme", "rhymes", "novel", "fairy", "fable",
     "essay", "blog", "article", "email", "letter", "speech", "tweet", "slogan", "tagline", "joke", "jokes",
     "advertisement", "bio", "caption", "headline", "pitch", "toast", "dialogue", "pretend", "roleplay",
     "role-play", "character", "characters", "plot", "creative", "persuasive", "catchy", "vivid", "imagery",
     "descriptive", "engaging", "captivating", "persona")
_add("creative_writing", 0.7, "imagine")
_add("open_question", 1.0, "explain", "describe", "define", "difference", "meaning", "history", "advice", "recommend")

CREATE_VERBS = frozenset(("write", "create", "generate", "compose", "draft", "craft", "make", "produce", "build",
                          "develop", "design", "implement", "code", "program", "give", "provide", "prepare",
                          "describe", "come"))
OBJECTS: dict[str, str] = {}
for _obj in ("function", "functions", "class", "method", "program", "code", "api", "endpoint", "query", "component",
             "app", "application", "website", "webpage", "bot", "algorithm", "regex", "test", "tests", "module",
             "library", "cli", "server", "schema", "implementation", "snippet", "macro", "dockerfile"):
    OBJECTS[_obj] = "code_generation"
for _obj in ("story", "poem", "song", "lyrics", "haiku", "limerick", "sonnet", "essay", "blog", "post", "article",
             "email", "letter", "speech", "dialogue", "tweet", "slogan", "tagline", "joke", "rap", "ad",
             "advertisement", "description", "bio", "caption", "headline", "outline", "pitch", "proposal", "toast",
             "novel", "chapter", "scene", "eulogy", "limericks", "poems", "stories", "jokes", "narrative", "tale",
             "review", "message", "invitation", "announcement", "script", "conversation", "riddle", "verse",
             "paragraph", "character", "plot", "itinerary", "motto", "name", "names", "presentation", "deck",
             "slides", "newsletter"):
    OBJECTS[_obj] = "creative_writing"
OBJECTS["summary"] = "summarization"
OBJECTS["translation"] = "translation"
OBJECTS["proof"] = "math"

QUESTION_START = frozenset(("what", "who", "when", "where", "why", "how", "which", "is", "are", "can", "could",
                            "do", "does", "did", "should", "would", "will", "whats", "what's"))
CODE_LANG_HINT = frozenset(("python", "javascript", "typescript", "java", "sql", "bash", "html", "css", "react",
                            "c++", "golang", "rust", "php", "ruby", "kotlin", "swift", "node.js", "powershell"))
