"""A question a reader would ask about a passage, found offline (no LLM).

In order of preference:

1. the section heading, when the author wrote it as a question ("What is abliteration?");
2. a question the author asks in the passage ("What is Change Data Capture (CDC)?"), when it
   stands on its own (no "this", "it", "they"… pointing at earlier text);
3. the passage's key definitional or goal sentence turned into a question: "X is a/the …" →
   "What is X?", "X is used to …" → "What is X used for?", "The purpose of X is to …" →
   "What is the purpose of X?", "To do Y, we/you …" → "How do you do Y?", "X lets you …" →
   "What does X let you do?". Among several, the one whose subject the passage mentions most
   (its key sentence) wins; ties go to the earliest.

Every question is a grammatical sentence ending with "?"; ``None`` when none of these applies.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from llm_twin.application.dataset.extracts import sentence_spans


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PRONOUNS = _word_set(
    "it this that these those they them their its he she his her here there which such "
    "above below following former latter"
)
# Subjects that cannot be asked about ("What is it?", "What is we?").
_BAD_SUBJECT_START = _PRONOUNS | _word_set(
    "i we you so but and or then now also however thus as if when because in on at for with "
    "by to from of all some most many each every one another both either neither what why how "
    "who where let here's there's that's it's"
)
_ABSTRACT = _word_set(
    "purpose goal aim idea point role job key trick problem issue challenge difference "
    "advantage benefit downside drawback reason solution secret catch rule strategy approach "
    "objective intuition motivation"
)
# Words glued by the crawler ("DesignThe retrieval"): a lower-case run then a capitalised word.
_GLUED = re.compile(r"[a-z]{3,}[A-Z][a-z]{2,}")
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_COPULA = re.compile(
    r"^(?P<subject>[A-Z(][^,;:!?]{1,80}?)\s+(?P<verb>is|are)\s+"
    r"(?:(?:essentially|basically|simply|just|also|actually|really)\s+)?(?P<next>\w+)"
)
_GOAL = re.compile(
    r"^To (?P<goal>[a-z][^,;:!?]{6,100}),\s+(?:we|you|I)\s+"
    r"(?:first\s+)?(?:need|have|must|should|can|will|use|start|just|only)\b"
)
_ENABLES = re.compile(
    r"^(?P<subject>[A-Z][^,;:!?]{1,60}?)\s+(?:lets|allows|enables|helps)\s+(?:you|us|me)\b"
)
_DEFINING_NEXT = _word_set(
    "a an the one used responsible called known designed built based defined"
)
_OWNER = {"my": "your", "our": "your", "My": "Your", "Our": "Your"}
_LOWER_FIRST = _word_set("the a an your")


@dataclass(frozen=True)
class Question:
    """A question and where it came from.

    Attributes:
        text: The question.
        source: ``heading``, ``author`` (asked in the passage) or ``key_sentence``.
    """

    text: str
    source: str


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def standalone_question(sentence: str, min_words: int = 4) -> str | None:
    """``sentence`` when it is a question that makes sense without the text before it (between
    ``min_words`` and 25 words, no pronoun pointing at earlier text, no link or code)."""
    sentence = " ".join(sentence.strip().strip("*_").split())
    # "But what does X learn?" reads on its own without the conjunction.
    sentence = re.sub(
        r"^(?:But|And|So|Or|Now|Then),?\s+(\w)", lambda m: m.group(1).upper(), sentence
    )
    if not sentence.endswith("?") or not sentence[:1].isupper() or _GLUED.search(sentence):
        return None
    found = _words(sentence)
    if not min_words <= len(found) <= 25 or set(found) & _PRONOUNS:
        return None
    if any(mark in sentence for mark in ("http", "`", "[", "|", "\n")):
        return None
    return sentence


def _subject(text: str, passage: str = "") -> str | None:
    """The subject phrase as a question would name it ("My pipeline" → "your pipeline"); its
    first word is lower-cased when it is an article or the passage writes it in lower case."""
    parts = text.split()
    if not 1 <= len(parts) <= 9:
        return None
    first = parts[0].lower()
    if first in _BAD_SUBJECT_START or first.endswith(("ly", "'s")):
        return None
    parts[0] = _OWNER.get(parts[0], parts[0])
    lowered = parts[0].lower()
    if lowered in _LOWER_FIRST or (
        parts[0][1:].islower() and re.search(rf"\b{re.escape(lowered)}\b", passage)
    ):
        parts[0] = lowered
    lowered_words = {w.lower() for w in parts}
    if lowered_words & (_PRONOUNS | {"we", "i", "you", "our", "us"}) or _GLUED.search(text):
        return None
    return " ".join(parts)


def key_sentence_question(sentence: str, passage: str = "") -> tuple[str, str] | None:
    """``(question, subject)`` from a definitional or goal sentence, else ``None``.

    Args:
        sentence: One sentence of the passage.
        passage: The passage (decides whether the subject's first word is lower-cased).
    """
    sentence = " ".join(sentence.strip().strip("*_").split())
    goal = _GOAL.match(sentence)
    if goal:
        aim = " ".join(_OWNER.get(word, word) for word in goal.group("goal").split())
        if set(_words(aim)) & _PRONOUNS:
            return None  # "How do you handle this?" points back at earlier text
        return f"How do you {aim}?", aim
    enables = _ENABLES.match(sentence)
    if enables:
        subject = _subject(enables.group("subject"), passage)
        return (f"What does {subject} let you do?", subject) if subject else None
    copula = _COPULA.match(sentence)
    if not copula:
        return None
    subject = _subject(copula.group("subject"), passage)
    if subject is None:
        return None
    verb, following = copula.group("verb"), copula.group("next").lower()
    if following in ("to", "that") and set(_words(subject)[:3]) & _ABSTRACT:
        return f"What {verb} {subject}?", subject
    if following not in _DEFINING_NEXT:
        return None
    if following == "used":
        return f"What {verb} {subject} used for?", subject
    if following == "responsible":
        return f"What {verb} {subject} responsible for?", subject
    return f"What {verb} {subject}?", subject


def _mentions(text: str, subject: str) -> int:
    """How often the passage names the subject's content words (its centrality)."""
    lowered = text.lower()
    return sum(lowered.count(word) for word in set(_words(subject)) if len(word) > 3)


def _sentences(text: str) -> Iterable[str]:
    for start, end in sentence_spans(text):
        yield text[start:end]


def question_for(passage: str, heading: str = "") -> Question | None:
    """The question a reader would ask that ``passage`` answers (see the module docstring).

    Args:
        passage: The author's passage.
        heading: The heading of the section the passage is in (may be empty).
    """
    asked = standalone_question(heading, min_words=3) if heading else None
    if asked:
        return Question(asked, "heading")
    sentences = list(_sentences(passage))
    for sentence in sentences:
        asked = standalone_question(sentence)
        if asked:
            return Question(asked, "author")
    best: tuple[int, int, str] | None = None
    for position, sentence in enumerate(sentences):
        found = key_sentence_question(sentence, passage)
        if found is None:
            continue
        score = (_mentions(passage, found[1]), -position, found[0])
        if best is None or score[:2] > best[:2]:
            best = score
    return Question(best[2], "key_sentence") if best else None
