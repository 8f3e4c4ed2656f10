"""Abstaining: the relevance of a retrieval and what the twin says (issue 20)."""

from llm_twin.application.inference.abstention import (
    abstention_answer,
    abstention_draft,
    relevance,
    should_abstain,
)
from llm_twin.application.inference.models import AnswerSource
from llm_twin.application.rag.chunks import RetrievedChunk


def _chunk(point_id: str, **scores: float) -> RetrievedChunk:
    return RetrievedChunk(
        id=point_id,
        content="text",
        score=1.0,  # the reranker's relative score: never what abstaining reads
        document_id="d",
        title="T",
        link=f"https://x/{point_id}",
        author="A",
        author_id="a",
        category="articles",
        platform="p",
        chunk_index=0,
        scores=scores,
    )


def test_relevance_is_the_best_dense_similarity():
    chunks = [_chunk("1", dense=0.2, fused=1.0), _chunk("2", dense=0.45), _chunk("3", sparse=9.0)]
    assert relevance(chunks) == 0.45
    assert relevance([]) == 0.0
    assert relevance([_chunk("4", sparse=3.0)]) is None


def test_abstains_only_below_a_positive_threshold_on_scored_passages():
    low = [_chunk("1", dense=0.1)]
    assert should_abstain(low, 0.3)
    assert not should_abstain(low, 0.0)
    assert not should_abstain([_chunk("1", dense=0.5)], 0.3)
    assert not should_abstain([_chunk("1", sparse=3.0)], 0.3)
    assert should_abstain([], 0.3)


def test_abstentions_speak_in_the_twins_voice_with_the_nearest_sources():
    sources = [
        AnswerSource(title=f"Post {n}", link=f"https://x/{n}", author="A", score=0.1)
        for n in range(5)
    ]
    answer = abstention_answer(sources)
    assert answer.startswith("I haven't written about that")
    assert "https://x/0" in answer and "https://x/2" in answer and "https://x/3" not in answer
    draft = abstention_draft("sourdough baking?", sources)
    assert draft.startswith("I haven't written about sourdough baking,")
    assert abstention_answer([]).startswith("I haven't written about that")
