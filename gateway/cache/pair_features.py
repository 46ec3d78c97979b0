"""Interpretable differences between two questions that an embedding similarity glosses over.

Sentence embeddings place "turn on dark mode" and "turn off dark mode" almost on top of each other: they encode
topic, not the one word that flips the answer. Each function here looks for one kind of such word (negation,
antonym, number, name, unit, format, question word) on one side and not the other. The verifier turns them into
hard rejections and, with the cosine and word overlap, into the inputs of a small logistic model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_CONTRACTIONS = [(re.compile(p, re.I), r) for p, r in [
    (r"\bcan't\b", "can not"), (r"\bwon't\b", "will not"), (r"\bshan't\b", "shall not"), (r"n't\b", " not"),
    (r"'re\b", " are"), (r"'ve\b", " have"), (r"'ll\b", " will"), (r"'d\b", " would"), (r"'m\b", " am"),
    (r"\bcannot\b", "can not"), (r"\b(what|that|it|who|where|how|there|he|she|here|when|why)'s\b", r"\1 is")]]
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'+#.]*[A-Za-z+#]|[A-Za-z]|\d+(?:[.,]\d+)*|[$€£¥₹%]")
_NUMBER_WORDS = {"zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
                 "twenty": "20", "thirty": "30", "fifty": "50", "hundred": "100", "thousand": "1000",
                 "million": "1000000", "billion": "1000000000"}

STOP_WORDS = frozenset("""a an the is are was were be been being am do does did doing have has had having i me my
mine we us our you your yours he him his she her it its they them their what which who whom whose this that these
those of at by for with about against between into through during to from in on off over under again further then
once here there all any both each few more most other some such only own same so than too very s t can will just
should would could may might must shall now of and or but if because as until while up down out get got one ones
someone something anything thing things really actually also much many way ways why how when where best good
know want like need make people possible""".split())

NEGATIONS = frozenset({"not", "no", "never", "without", "none", "nothing", "nobody", "neither", "nor", "nowhere"})

_ANTONYM_PAIRS = """on/off increase/decrease increases/decreases increasing/decreasing before/after enable/disable
enabled/disabled best/worst min/max minimum/maximum gain/lose gaining/losing buy/sell buying/selling pros/cons
advantages/disadvantages advantage/disadvantage positive/negative cheap/expensive cheapest/costliest good/bad
better/worse love/hate start/stop open/close import/export win/lose winning/losing rich/poor male/female
men/women man/woman boy/girl boys/girls husband/wife boyfriend/girlfriend more/less most/least fast/slow
faster/slower fastest/slowest hot/cold high/low higher/lower highest/lowest large/small big/small bigger/smaller
biggest/smallest first/last add/remove upload/download push/pull true/false legal/illegal possible/impossible
safe/unsafe safe/dangerous easy/hard easy/difficult easiest/hardest strong/weak top/bottom import/export
inside/outside above/below left/right north/south east/west past/future young/old younger/older
increase/reduce heavy/light happy/sad happy/unhappy success/failure successful/unsuccessful accept/reject
include/exclude encrypt/decrypt encode/decode compress/decompress upper/lower uppercase/lowercase
ascending/descending asc/desc install/uninstall lock/unlock online/offline friend/enemy agree/disagree
like/dislike allowed/forbidden always/never everything/nothing everyone/nobody all/none""".split()
ANTONYMS: dict[str, set[str]] = {}
for _pair in _ANTONYM_PAIRS:
    _x, _y = _pair.split("/")
    ANTONYMS.setdefault(_x, set()).add(_y)
    ANTONYMS.setdefault(_y, set()).add(_x)

UNITS = {u: u for u in """km kilometer kilometers kilometre kilometres mile miles meter meters metre metres cm mm
inch inches foot feet ft yard yards kg kilogram kilograms gram grams g lb lbs pound pounds ounce ounces oz ton tons
tonne liter liters litre litres ml gallon gallons celsius fahrenheit kelvin mph kmh kph second seconds minute minutes
hour hours day days week weeks month months year years gb mb kb tb byte bytes bits watt watts kw kwh volt volts
calorie calories kcal percent""".split()}
CURRENCIES = {c: c for c in """usd dollar dollars eur euro euros gbp sterling inr rupee rupees rs yen jpy yuan cny
rmb bitcoin bitcoins btc ethereum eth peso pesos franc francs won ruble rubles rouble dirham aud cad""".split()}
CURRENCIES.update({"$": "dollar", "€": "euro", "£": "pound-sterling", "¥": "yen", "₹": "rupee"})
for _a, _b in [("kilometer", "km"), ("kilometers", "km"), ("kilometre", "km"), ("kilometres", "km"),
               ("miles", "mile"), ("meters", "meter"), ("metre", "meter"), ("metres", "meter"), ("inches", "inch"),
               ("feet", "foot"), ("ft", "foot"), ("kilogram", "kg"), ("kilograms", "kg"), ("grams", "gram"),
               ("g", "gram"), ("lb", "pound"), ("lbs", "pound"), ("pounds", "pound"), ("ounces", "ounce"),
               ("oz", "ounce"), ("liters", "liter"), ("litre", "liter"), ("litres", "liter"), ("gallons", "gallon"),
               ("seconds", "second"), ("minutes", "minute"), ("hours", "hour"), ("days", "day"), ("weeks", "week"),
               ("months", "month"), ("years", "year"), ("bytes", "byte"), ("watts", "watt"), ("volts", "volt"),
               ("calories", "calorie"), ("kcal", "calorie"), ("tons", "ton"), ("tonne", "ton"), ("yards", "yard")]:
    UNITS[_a] = _b
for _a, _b in [("usd", "dollar"), ("dollars", "dollar"), ("eur", "euro"), ("euros", "euro"), ("rupees", "rupee"),
               ("inr", "rupee"), ("rs", "rupee"), ("jpy", "yen"), ("cny", "yuan"), ("rmb", "yuan"),
               ("bitcoins", "bitcoin"), ("btc", "bitcoin"), ("eth", "ethereum"), ("pesos", "peso"),
               ("francs", "franc"), ("rubles", "ruble"), ("rouble", "ruble"), ("gbp", "pound-sterling"),
               ("sterling", "pound-sterling")]:
    CURRENCIES[_a] = _b

FORMATS = {f: f for f in """json yaml xml csv table tables markdown html pdf excel spreadsheet chart graph
bullet bullets poem haiku""".split()}
FORMATS.update({"tables": "table", "bullets": "bullet"})
PROGRAMMING = frozenset("""python java javascript js typescript c++ c# golang rust ruby php kotlin scala
perl haskell sql bash powershell matlab julia lua dart elixir erlang clojure fortran cobol objective-c
node.js nodejs angular django flask""".split())
LANGUAGES = frozenset("""english french spanish german italian portuguese russian chinese mandarin cantonese
japanese korean hindi urdu bengali punjabi tamil telugu marathi gujarati kannada malayalam arabic hebrew turkish
persian farsi greek latin dutch swedish norwegian danish finnish polish czech ukrainian vietnamese thai
indonesian malay swahili sanskrit""".split())
# Question words that change what is asked; "what", "which" and "how" often paraphrase each other ("what is the
# way to" / "how do I"), so they count as an open question that conflicts with none of these.
DISTINCT_WH = {"why": "why", "when": "when", "who": "who", "whom": "who", "whose": "whose", "where": "where"}
_OPEN_WH = frozenset({"what", "which", "how"})


@dataclass(frozen=True)
class Parsed:
    """One question reduced to the word sets the checks compare."""

    words: tuple[str, ...]
    stems: frozenset[str]  # every word stemmed: where a name on the other side is looked for
    content: frozenset[str]
    numbers: tuple[str, ...]
    names: frozenset[str]
    negated: bool
    units: frozenset[str]
    formats: frozenset[str]
    ask: str


def stem(word: str) -> str:
    """A light suffix strip so plural and tense variants compare equal (learn/learning/learned)."""
    for suffix in ("ing", "ies", "ied", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


@lru_cache(maxsize=4096)
def parse(text: str) -> Parsed:
    """Tokenise once and pull out every word class the checks need."""
    expanded = text
    for pattern, replacement in _CONTRACTIONS:
        expanded = pattern.sub(replacement, expanded)
    raw = _TOKEN.findall(expanded)
    words = tuple(w.lower().rstrip(".") for w in raw)
    numbers = tuple(sorted(_number(w) for w in words if w[0].isdigit() or w in _NUMBER_WORDS))
    formats = {FORMATS[w] for w in words if w in FORMATS}
    formats |= {f"code:{w}" for w in words if w in PROGRAMMING}
    formats |= {f"lang:{w}" for w in words if w in LANGUAGES}
    return Parsed(
        words=words,
        stems=frozenset(map(stem, words)),
        content=frozenset(stem(w) for w in words if w not in STOP_WORDS and w not in NEGATIONS and w.isalpha()),
        numbers=numbers,
        names=frozenset(_names(raw)),
        negated=_negated(words),
        units=frozenset({UNITS[w] for w in words if w in UNITS} | {CURRENCIES[w] for w in words if w in CURRENCIES}),
        formats=frozenset(formats),
        ask=_ask(words),
    )


_NOT_NAMES = STOP_WORDS | NEGATIONS | set(UNITS) | set(CURRENCIES) | set(FORMATS) | PROGRAMMING | LANGUAGES


def _negated(words: tuple[str, ...]) -> bool:
    """A negation that is not a set phrase ("why not", "or not") or the abbreviation "no." for number."""
    for i, word in enumerate(words):
        if word in NEGATIONS and not (word == "not" and i and words[i - 1] in ("why", "or")) and word != "without":
            return True
    return False


def _ask(words: tuple[str, ...]) -> str:
    """The first question word's kind: why, when, who, whose, where, quantity (how many/much), open, or none."""
    for i, word in enumerate(words):
        if word == "how" and i + 1 < len(words) and words[i + 1] in ("many", "much"):
            return "quantity"
        if word in DISTINCT_WH:
            return DISTINCT_WH[word]
        if word in _OPEN_WH:
            return "open"
    return ""


def _number(word: str) -> str:
    """Digits as written without separators, number words as digits: "five" == "5", "1,000" == "1000"."""
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    return word.replace(",", "")


def _names(raw: list[str]) -> set[str]:
    """Capitalised words that are not the first word (a crude but transparent proper-noun detector)."""
    names = set()
    for i, token in enumerate(raw):
        word = token.lower()
        if i > 0 and token[0].isupper() and word not in _NOT_NAMES and token != "I" and len(token) > 1:
            names.add(stem(word))
    return names


def antonym_flip(a: Parsed, b: Parsed) -> str | None:
    """A word on one side whose opposite is on the other side (and neither side has both)."""
    wa, wb = set(a.words), set(b.words)
    for word in sorted(wa - wb):
        for opposite in sorted(ANTONYMS.get(word, ())):
            if opposite in wb and opposite not in wa:
                return f"{word}/{opposite}"
    return None


def _swapped(x: frozenset[str], y: frozenset[str]) -> bool:
    """Each side has a value the other lacks: a substitution ("Apple" -> "Google"), not an added detail."""
    return bool(x - y) and bool(y - x)


def names_swapped(a: Parsed, b: Parsed) -> tuple[set[str], set[str]]:
    """Names on each side that the other side does not mention in any case or form."""
    return {n for n in a.names if n not in b.stems}, {n for n in b.names if n not in a.stems}


def overlap(a: Parsed, b: Parsed) -> tuple[float, frozenset[str], frozenset[str]]:
    """Jaccard overlap of content words, and the content words only each side has."""
    union = a.content | b.content
    jaccard = len(a.content & b.content) / len(union) if union else 1.0
    return jaccard, a.content - b.content, b.content - a.content


def differences(a: Parsed, b: Parsed) -> dict[str, str]:
    """The hard-rule families that fire: the two questions disagree, not merely one adds a detail.

    QQP shows why the rules look for conflicts: "How long should I boil a 4 oz lobster tail?" and the same
    without "4 oz" are duplicates, while "15% of 200" and "15% of 300" ask different things.
    """
    found: dict[str, str] = {}
    if a.negated != b.negated and overlap(a, b)[0] >= 0.5:
        found["negation"] = "one side is negated (not/no/never), the other is not"
    flip = antonym_flip(a, b)
    if flip:
        found["antonym"] = f"opposite words {flip}"
    if a.numbers and b.numbers and a.numbers != b.numbers:
        found["number"] = f"numbers differ: {list(a.numbers)} vs {list(b.numbers)}"
    only_a, only_b = names_swapped(a, b)
    if only_a and only_b:
        found["name"] = f"names differ: {sorted(only_a)} vs {sorted(only_b)}"
    if _swapped(a.units, b.units):
        found["unit"] = f"units or currencies differ: {sorted(a.units ^ b.units)}"
    if _swapped(a.formats, b.formats):
        found["format"] = f"requested format or language differs: {sorted(a.formats ^ b.formats)}"
    if a.ask != b.ask and a.ask not in ("", "open") and b.ask not in ("", "open"):
        found["question"] = f"question words differ: {a.ask} vs {b.ask}"
    return found


RULES = ("negation", "antonym", "number", "name", "unit", "format", "question")
FEATURES = ("bias", "cosine", "cosine_sq", "jaccard", "rare_only_min", "rare_only_max", "rarest_only",
            "content_len", "numbers_differ", "names_differ", "negation_differs", "units_differ", "formats_differ",
            "ask_differs")


class PairFeatures:
    """The logistic model's inputs, in FEATURES order; each is readable on its own.

    Word rarity (inverse document frequency over the training questions) is what separates "how can I
    really learn X" (the extra word is common filler) from "how can I learn X on Ubuntu" (the extra word is rare
    and specific): the features sum the rarity of the content words that only one side has.
    """

    def __init__(self, idf: dict[str, float], unseen_idf: float) -> None:
        self.idf = idf
        self.unseen_idf = unseen_idf

    def rarity(self, words: frozenset[str]) -> tuple[float, float]:
        values = [self.idf.get(w, self.unseen_idf) for w in words]
        return sum(values), max(values, default=0.0)

    def vector(self, query: str, cached: str, similarity: float) -> list[float]:
        return [1.0, similarity, similarity * similarity, *self.lexical(query, cached)]

    def lexical(self, query: str, cached: str) -> list[float]:
        """The word-level features (FEATURES from jaccard on): symmetric in the two questions, so the alignment
        model, which reads them beside its token comparisons, stays symmetric too."""
        a, b = parse(query), parse(cached)
        jaccard, only_a, only_b = overlap(a, b)
        (sum_a, max_a), (sum_b, max_b) = self.rarity(only_a), self.rarity(only_b)
        names_a, names_b = names_swapped(a, b)
        return [jaccard, min(sum_a, sum_b) / 10, max(sum_a, sum_b) / 10,
                max(max_a, max_b) / 10, min(len(a.content), len(b.content)) / 10,
                float(a.numbers != b.numbers), float(bool(names_a or names_b)), float(a.negated != b.negated),
                float(a.units != b.units), float(a.formats != b.formats), float(a.ask != b.ask)]
