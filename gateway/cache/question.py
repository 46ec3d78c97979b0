"""Which user turns are worth a semantic-cache lookup at all.

"continue", "thanks" or "ok" mean something different in every conversation; an embedding of them would match
another user's identical word and serve an answer to a question that was never asked. Such turns, and turns too
short to carry a question, skip the semantic cache (the exact cache, keyed on the whole conversation, still works).
"""

from __future__ import annotations

import re

_BOILERPLATE = frozenset("""hi hello hey yo hiya thanks thank you thx ty cheers ok okay k kk sure yes yeah yep no nope
nah continue go on keep going more next again please retry try again proceed done cool great nice good perfect
fine alright right correct wrong what why how huh hmm lol bye goodbye stop same""".split())
_WORD = re.compile(r"[\w']+")


def embeddable(text: str) -> bool:
    """False for empty, punctuation-only and short boilerplate turns; True for anything that can be a question."""
    words = [w.lower() for w in _WORD.findall(text or "")]
    if not words:
        return False
    if all(w in _BOILERPLATE for w in words) and len(words) <= 4:
        return False
    return sum(len(w) for w in words) >= 4
