"""Stylometric and surface metrics on hand-made texts."""

import pytest

from llm_twin.model.evaluation.stylometry import (
    StyleProfile,
    bray_curtis,
    distinct_n,
    punctuation_rates,
    repeated_ngram_rate,
    sentence_length_histogram,
    surface_metrics,
)

AUTHOR = [
    "I think the trick is simple. I run it on my laptop and it works; no cluster needed.",
    "I wrote the crawler in a weekend. It was not pretty, but it did the job for me.",
    "My advice: start small. I always test with real data, and I keep the code boring.",
]
FORMAL = [
    "The results of the evaluation of the proposed approach are presented in the following "
    "section of the paper, which describes the methodology of the authors.",
    "The analysis of the performance of the system is based upon the measurements of the "
    "throughput of the components of the architecture.",
]


def test_delta_is_zero_for_the_authors_own_profile_and_grows_with_difference() -> None:
    profile = StyleProfile.from_texts(AUTHOR)
    assert profile.delta(AUTHOR) == pytest.approx(0.0, abs=1e-12)
    half = profile.delta([AUTHOR[0], FORMAL[0]])
    different = profile.delta(FORMAL)
    assert 0 < half < different
    assert "i" in profile.vocabulary and "the" in profile.vocabulary


def test_profile_distances_are_zero_for_identical_texts_and_positive_otherwise() -> None:
    profile = StyleProfile.from_texts(AUTHOR)
    assert profile.sentence_length_distance(AUTHOR) == pytest.approx(0.0)
    assert profile.punctuation_distance(AUTHOR) == pytest.approx(0.0)
    assert profile.sentence_length_distance(FORMAL) > 0.5  # long sentences only
    assert profile.punctuation_distance(FORMAL) > 0.3  # no ; or :


def test_profile_needs_words() -> None:
    with pytest.raises(ValueError, match="no words"):
        StyleProfile.from_texts(["", "  ...  "])


def test_histograms_and_bray_curtis() -> None:
    histogram = sentence_length_histogram(["One two three. " + "word " * 12 + "end."])
    assert histogram[0] == pytest.approx(0.5) and histogram[2] == pytest.approx(0.5)
    rates = punctuation_rates(["a, b, c."])  # 3 words
    assert rates[0] == pytest.approx(100 / 3) and rates[1] == pytest.approx(200 / 3)
    assert bray_curtis([1, 0], [1, 0]) == 0 and bray_curtis([1, 0], [0, 1]) == 1
    assert bray_curtis([0, 0], [0, 0]) == 0


def test_repetition_and_length_statistics() -> None:
    assert repeated_ngram_rate("the cat sat on the mat") == 0
    loop = "I like it " * 10
    assert repeated_ngram_rate(loop) > 0.8
    assert distinct_n(["a b c d"]) == 1 and distinct_n(["a b a b a b"]) == pytest.approx(0.4)
    stats = surface_metrics(["one two three four", ""], ["one two", "one two three four"])
    assert stats["mean_words"] == 2
    assert stats["length_ratio"] == pytest.approx((2 + 0) / 2)
    assert stats["empty_rate"] == 0.5
    with pytest.raises(ValueError, match="2 answers for 1 references"):
        surface_metrics(["a", "b"], ["a"])
