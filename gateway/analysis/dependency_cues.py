"""The words and phrases that tell whether a turn leans on earlier turns, for `dependency`.

Each regex is wrapped in a `Gated` with the words one of which it needs: a turn is first reduced to its set of words,
and only the patterns whose words are present are run (a regex over a 400-character head costs 3-20 us; most turns
trigger two or three of them).
"""

from __future__ import annotations

from gateway.analysis import patterns
from gateway.analysis.text import Gated

OUTPUT_NOUN = (r"(?:response|answer|reply|message|output|result|code|example|solution|list|story|poem|email|"
               r"suggestion|question|version|draft|point|option|idea|paragraph|sentence|text|step|item|case|"
               r"statement|part|table|function|program|script|explanation|proof|approach|implementation|plan|essay|"
               r"algorithm|scenario|one|choice|letter|article|summary|translation|outline|recommendation)s?")
BACK_REFERENCE = Gated(patterns.compile(
    r"\b(?:your|the|my|that|this|these|those) (?:previous|last|earlier|prior|above|preceding|original|former|latter|"
    r"first|second|third|fourth|fifth|other|same|initial|aforementioned|mentioned|listed) " + OUTPUT_NOUN + r"\b"
    r"|\b(?:the |as )?above\b|\baforementioned\b"
    r"|\bas (?:mentioned|discussed|stated|described|shown|said|noted) (?:before|earlier|previously)\b"
    r"|\byou (?:just )?(?:said|mentioned|wrote|suggested|gave|provided|listed|described|explained|proposed|showed|"
    r"recommended|used|made|did|created|generated)\b"
    r"|\b(?:do|repeat|try|redo) (?:the same|it|that|this)(?: task| thing)? again\b|\bthe same (?:task|thing|way|"
    r"format|question|again)\b|\bsame (?:for|with)\b|\bdo the same\b"
    r"|\byour (?:\w+ ){0,2}" + OUTPUT_NOUN + r"\b"
    r"|\b(?:the|these|those) (?:previous|above|listed|aforementioned|mentioned|preceding|prior|earlier) [a-z]{3,}"),
    "previous", "last", "earlier", "prior", "above", "preceding", "original", "former", "latter", "first", "second",
    "third", "fourth", "fifth", "other", "same", "initial", "aforementioned", "mentioned", "listed", "before",
    "previously", "said", "wrote", "suggested", "gave", "provided", "described", "explained", "proposed", "showed",
    "recommended", "used", "made", "did", "created", "generated", "again", "your")
SELECT = Gated(patterns.compile(r"\b(?:pick|choose|select) (?:one|two|three|the best|your favou?rite|any one)\b|"
                                r"\bone of (?:them|these|those|the (?:above|options|examples|ideas|suggestions|"
                                r"ones))\b|\b(?:first|second|third|last) (?:one|example|option)\b"),
               "pick", "choose", "select", "one", "first", "second", "third", "last")
WEAK_BACK = Gated(patterns.compile(r"\b(?:earlier|previously|again|instead|as well|so far|before)\b"),
                  "earlier", "previously", "again", "instead", "well", "far", "before")
EDIT_PRONOUN = Gated(patterns.compile(
    r"\b(?:rewrite|rephrase|translate|summari[sz]e|simplify|shorten|expand|elaborate on|explain|fix|improve|"
    r"convert|format|turn|put|refactor|optimi[sz]e|finish|redo|modify|change|update|adjust|revise|extend|make|"
    r"parallelize|test|continue|correct|reformat|check|debug|run) (?:it|them|these|those|(?:this|that)(?=\s*[.?!,;]|"
    r"\s*$| (?:one|part|again|too|also|into|to|in|for|as|more|shorter|longer|better|simpler)\b))\b(?!\s*:)"),
    "rewrite", "rephrase", "translate", "summarize", "summarise", "simplify", "shorten",
    "expand", "elaborate", "explain", "fix", "improve", "convert", "format", "turn", "put", "refactor", "optimize",
    "optimise", "finish", "redo", "modify", "change", "update", "adjust", "revise", "extend", "make", "parallelize",
    "test", "continue", "correct", "reformat", "check", "debug", "run")
ELLIPTIC = patterns.compile(
    r"^(?:shorter|longer|simpler|more \w+|less \w+|in \w+|as a (?:table|list|poem|json|bullet list)|in bullet points"
    r"|one more|another(?: one)?|elaborate|expand|again|more details?|more examples?|tl;?dr|explain more|go deeper"
    r"|give me more|try again|examples?|details?|continue|go on|keep going|next|proceed|do it|please do|go ahead"
    r"|the (?:first|second|third|last|other) one|both|neither|all of them|the latter|the former)\b")
EXPLETIVE_IT = patterns.compile(r"\b(?:it(?:'s| is| was| would be| will be| seems| takes)|(?:is|was|would|"
                                r"does) it)(?: \w+){0,3} (?:to|that|whether|if|like|when|for)\b|\bwhat is it like\b|"
                                r"\bhow(?:'s| is) it going\b")

LEADING: dict[str, float] = {
    "and": 0.75, "but": 0.6, "so": 0.45, "also": 0.5, "then": 0.55, "now": 0.55, "ok": 0.6, "okay": 0.6,
    "thanks": 0.5, "thank": 0.5, "great": 0.5, "cool": 0.5, "nice": 0.45, "perfect": 0.5, "yes": 0.8, "no": 0.7,
    "yeah": 0.8, "yep": 0.8, "nope": 0.75, "sure": 0.75, "continue": 0.85, "more": 0.6, "again": 0.7, "why": 0.55,
    "instead": 0.7, "hmm": 0.5, "what about": 0.8, "how about": 0.8, "what if": 0.6, "what else": 0.8,
    "in that case": 0.8, "go on": 0.85, "keep going": 0.85, "and the": 0.85, "same": 0.7, "wait": 0.6,
    "actually": 0.45, "alright": 0.55, "right": 0.45,
}
PRONOUNS = frozenset(("it", "its", "they", "them", "their", "those", "these", "he", "she", "him", "her", "his",
                       "that", "this", "there"))
DEICTIC_NEXT = frozenset(("code", "function", "answer", "one", "ones", "list", "example", "text", "story", "poem",
                           "email", "error", "problem", "question", "approach", "solution", "part", "sentence",
                           "paragraph", "point", "idea", "method", "program", "script", "version", "is", "was",
                           "does", "doesn't", "means", "works", "sounds", "looks", "case", "process", "algorithm",
                           "plan", "situation", "option", "options", "ideas", "points", "examples", "steps", "step",
                           "response", "reply", "design", "essay", "table", "results", "result", "issue", "bug"))
STOP = frozenset(("what", "which", "when", "where", "why", "how", "who", "the", "and", "are", "is", "does", "do",
                   "can", "could", "would", "should", "you", "your", "please", "with", "about", "from", "into",
                   "have", "has", "for", "that", "this", "will", "give", "tell", "make", "some", "more", "than"))


GENERIC = frozenset(("first", "second", "third", "last", "next", "following", "same", "other", "main", "best",
                      "most", "total", "number", "example", "examples", "answer", "question", "questions", "thing",
                      "things", "world", "people", "time", "way", "ways", "user", "text", "word", "words",
                      "three", "four", "five", "information", "data", "list", "step", "steps", "result"))
EARLIER_WORD = patterns.compile(r"\b(?:previous|last|earlier|prior|above|preceding|original|former|first|second|third|"
                                r"fourth|fifth|latter)\b")
EDIT_BEFORE = patterns.compile(r"\b(?:rewrite|revise|rephrase|shorten|improve|translate|expand|summari[sz]e|modify|"
                               r"alter|change|update|fix|check|critique|evaluate|take|reformulate|amend|rework|use|"
                               r"from|of|on|with|based on)\s+$")
DETERMINERS = frozenset(("the", "these", "those", "both", "your"))  # "this"/"that" are mostly pronouns: see PRONOUNS
ORDINALS = frozenset(("first", "second", "third", "fourth", "fifth", "last", "latter", "former", "other", "next"))
PREMISE_START = patterns.compile(r"(?:if|suppose|assume|assuming|imagine)$")
FUNCTION_WORDS = frozenset(("after", "before", "during", "since", "until", "about", "into", "onto", "over", "under",
                            "between", "among", "through", "without", "within", "one", "ones", "only", "very"))
PERSONA_PERSISTS = patterns.compile(r"\b(?:throughout (?:this|our|the) conversation|(?:in|"
                                    r"for) (?:all )?the (?:following|rest of (?:the|this|our))(?: conversations?|"
                                    r" chat)?|from now on|until i say|stay in character|for the rest of)\b")
PERSONA = patterns.compile(r"\b(?:pretend|imagine yourself|imagine you are|picture yourself|suppose you are|act as|"
                           r"acting as|you are (?:a|an|now|my)|role-?play|(?:play|take on|assume|embrace|"
                           r"adopt) the (?:role|persona|character)|embody|persona|in character|throughout (?:this|our|"
                           r"the) conversation|(?:in|for) (?:all )?the following conversations?)\b")
LABEL = Gated(patterns.compile(r"\b(?:situation|option|case|scenario|point|item|example|question|step|part|figure|"
                               r"table)\s*\(?(?:[a-h]|[1-9])\)?(?![\w.])"),
              "situation", "option", "case", "scenario", "point", "item", "example", "question", "step", "part",
              "figure", "table")
MORE = Gated(patterns.compile(r"\b(?:more (?:details?|examples?|information|ideas|options)|elaborate|expand on|"
                              r"go deeper|in more detail|another (?:one|example|way|version))\b"),
             "more", "elaborate", "expand", "deeper", "another")
VARIABLE = patterns.compile(r"(?<![\w'])[b-hj-z](?![\w'])")
COMPARATIVE = Gated(patterns.compile(r"\b(?:better|faster|simpler|cheaper|more efficient|more optimal|worse|shorter|"
                                     r"longer)\b(?![^.?!]{0,60}\b(?:than|or|vs|versus|compared)\b)|\b(?:similar|"
                                     r"analogous|comparable)\b(?! to\b)"),
                    "better", "faster", "simpler", "cheaper", "more", "worse", "shorter", "longer", "similar",
                    "analogous", "comparable")
