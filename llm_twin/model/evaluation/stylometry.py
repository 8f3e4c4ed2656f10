"""Stylometric and surface metrics of generated answers against the author's writing.

- Burrows' Delta over function-word frequencies: the author's profile (mean and standard
  deviation of each function word's relative frequency across the author's texts) turns any text
  into z-scores; Delta is the mean absolute z-score difference between the answers (as one text)
  and the author (all texts as one). 0 for identical profiles, larger as styles diverge.
- Sentence-length and punctuation profiles: distributions compared with the Bray-Curtis
  dissimilarity (0 identical, 1 nothing in common).
- Length (mean words, ratio to the reference answer) and repetition (repeated 3-gram rate,
  distinct-2).
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

#: English function words (closed-class words: articles, pronouns, prepositions, conjunctions,
#: auxiliaries, common adverbs): topic-independent, so their rates characterise a writer.
_FUNCTION_WORD_TEXT = """
    a about above after again against all also although am an and any are as at be because
    been before being below between both but by can could did do does doing down during each
    either even ever every few for from further had has have having he her here hers herself him
    himself his how however i if in into is it its itself just many may me might more most much
    must my myself neither never no nor not now of off on once one only or other our ours
    ourselves out over own same shall she should since so some such than that the their theirs
    them themselves then there these they this those though through thus to too under until up
    upon us very was we were what when where whether which while who whom whose why will with
    within without would yet you your yours yourself yourselves"""
FUNCTION_WORDS = tuple(_FUNCTION_WORD_TEXT.split())

#: Sentence-length bins (words): the upper bounds; the last bin is open.
SENTENCE_BINS = (5, 10, 15, 20, 30)
#: Punctuation marks of the punctuation profile.
PUNCTUATION = tuple(".,;:!?-()\"'[]")

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``."""
    return _WORD.findall(text.lower())


def sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after ``.!?`` and at line breaks), empty ones dropped."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def word_frequencies(text: str, vocabulary: Sequence[str]) -> list[float]:
    """Relative frequency of each word of ``vocabulary`` among the words of ``text``."""
    tokens = words(text)
    if not tokens:
        return [0.0] * len(vocabulary)
    counts = Counter(tokens)
    return [counts[word] / len(tokens) for word in vocabulary]


def bray_curtis(first: Sequence[float], second: Sequence[float]) -> float:
    """Bray-Curtis dissimilarity of two non-negative vectors: 0 identical, 1 disjoint (0 when
    both are all zero)."""
    total = sum(first) + sum(second)
    if total == 0:
        return 0.0
    return sum(abs(a - b) for a, b in zip(first, second, strict=True)) / total


def sentence_length_histogram(texts: Sequence[str]) -> list[float]:
    """Share of sentences in each :data:`SENTENCE_BINS` bin over all ``texts``."""
    counts = [0] * (len(SENTENCE_BINS) + 1)
    for text in texts:
        for sentence in sentences(text):
            length = len(words(sentence))
            if length == 0:
                continue
            index = next((i for i, top in enumerate(SENTENCE_BINS) if length <= top), -1)
            counts[index] += 1
    total = sum(counts)
    return [count / total for count in counts] if total else [0.0] * len(counts)


def punctuation_rates(texts: Sequence[str]) -> list[float]:
    """Occurrences of each :data:`PUNCTUATION` mark per 100 words over all ``texts``."""
    total_words = sum(len(words(text)) for text in texts)
    if total_words == 0:
        return [0.0] * len(PUNCTUATION)
    joined = "".join(texts)
    return [100 * joined.count(mark) / total_words for mark in PUNCTUATION]


@dataclass(frozen=True)
class StyleProfile:
    """The author's style, from their texts.

    Attributes:
        vocabulary: The function words used by Delta (the author's most frequent ones).
        means: Relative frequency of each word over all the author's text.
        stdevs: Standard deviation of each word's frequency across the author's texts (floored:
            a word the author uses at a constant rate must not divide by zero).
        sentence_lengths: :func:`sentence_length_histogram` of the author's texts.
        punctuation: :func:`punctuation_rates` of the author's texts.
        texts: How many texts the profile was built from.
    """

    vocabulary: tuple[str, ...]
    means: tuple[float, ...]
    stdevs: tuple[float, ...]
    sentence_lengths: tuple[float, ...]
    punctuation: tuple[float, ...]
    texts: int

    #: Smallest standard deviation used (relative-frequency units: 0.1 % of the words).
    MIN_STDEV = 1e-3

    @classmethod
    def from_texts(cls, texts: Sequence[str], top_words: int = 60) -> "StyleProfile":
        """Build the profile of ``texts`` (each one document of the author).

        Args:
            texts: The author's texts (e.g. the answers of the instruct train split).
            top_words: Function words kept (the author's most frequent).

        Raises:
            ValueError: no words in ``texts``.
        """
        texts = [text for text in texts if words(text)]
        if not texts:
            raise ValueError("the author's reference texts contain no words")
        counts = Counter(word for text in texts for word in words(text))
        used = [word for word in FUNCTION_WORDS if counts[word]]
        vocabulary = tuple(sorted(used, key=lambda word: (-counts[word], word))[:top_words])
        means = word_frequencies(" ".join(texts), vocabulary)
        per_text = [word_frequencies(text, vocabulary) for text in texts]
        stdevs = []
        for column in range(len(vocabulary)):
            values = [row[column] for row in per_text]
            mean = sum(values) / len(values)
            variance = sum((value - mean) ** 2 for value in values) / len(values)
            stdevs.append(max(variance**0.5, cls.MIN_STDEV))
        return cls(
            vocabulary=vocabulary,
            means=tuple(means),
            stdevs=tuple(stdevs),
            sentence_lengths=tuple(sentence_length_histogram(texts)),
            punctuation=tuple(punctuation_rates(texts)),
            texts=len(texts),
        )

    def delta(self, texts: Sequence[str]) -> float:
        """Burrows' Delta of ``texts`` (taken together as one text) from this profile: the mean
        over the vocabulary of ``|z(texts) - z(author)|`` with ``z = (f - mean) / stdev``, which
        is ``mean |f(texts) - mean| / stdev``. 0 for the author's own frequencies."""
        if not self.vocabulary:
            return 0.0
        frequencies = word_frequencies(" ".join(texts), self.vocabulary)
        return sum(
            abs(f - m) / s for f, m, s in zip(frequencies, self.means, self.stdevs, strict=True)
        ) / len(self.vocabulary)

    def sentence_length_distance(self, texts: Sequence[str]) -> float:
        """Bray-Curtis dissimilarity of the sentence-length distributions."""
        return bray_curtis(sentence_length_histogram(texts), self.sentence_lengths)

    def punctuation_distance(self, texts: Sequence[str]) -> float:
        """Bray-Curtis dissimilarity of the punctuation rates (per 100 words)."""
        return bray_curtis(punctuation_rates(texts), self.punctuation)


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def repeated_ngram_rate(text: str, n: int = 3) -> float:
    """Share of the ``n``-grams of ``text`` that repeat an earlier one (0: no repetition; a
    degenerate loop approaches 1)."""
    grams = _ngrams(words(text), n)
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct ``n``-grams over all ``texts`` divided by their total (1: no n-gram repeats)."""
    grams = [gram for text in texts for gram in _ngrams(words(text), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def surface_metrics(answers: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Length and repetition statistics of ``answers`` against the reference answers.

    Returns:
        ``mean_words``, ``length_ratio`` (mean of answer words / reference words),
        ``repeated_trigram_rate`` (mean over answers), ``distinct_2``, ``empty_rate``.
    """
    if len(answers) != len(references):
        raise ValueError(f"{len(answers)} answers for {len(references)} references")
    if not answers:
        raise ValueError("no answers to measure")
    lengths = [len(words(answer)) for answer in answers]
    ratios = [
        length / max(1, len(words(reference)))
        for length, reference in zip(lengths, references, strict=True)
    ]
    return {
        "mean_words": sum(lengths) / len(lengths),
        "length_ratio": sum(ratios) / len(ratios),
        "repeated_trigram_rate": sum(repeated_ngram_rate(a) for a in answers) / len(answers),
        "distinct_2": distinct_n(answers, 2),
        "empty_rate": sum(1 for length in lengths if length == 0) / len(lengths),
    }
