"""Fusion, dedup, reranker plug-in contract and the prompt context."""

import dataclasses

import pytest

from llm_twin.application.rag.chunks import RetrievedChunk, to_context
from llm_twin.application.rag.dedup import deduplicate
from llm_twin.application.rag.fusion import reciprocal_rank_fusion, score_fusion
from llm_twin.application.rag.rerankers import (
    CrossEncoderReranker,
    EvidenceReranker,
    NoReranker,
    Reranker,
    build_reranker,
)
from llm_twin.domain.exceptions import ImproperlyConfigured


def chunk(cid: str, text: str, score: float = 1.0, link: str = "", title: str | None = None):
    return RetrievedChunk(
        id=cid,
        content=text,
        score=score,
        document_id=f"doc-{link or cid}",
        title=title,
        link=link or f"https://x.example/{cid}",
        author="Ada Lovelace",
        author_id="ada",
        category="articles",
        platform="substack",
        chunk_index=0,
    )


def test_rrf_rewards_agreement_and_honours_weights():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["a"] == pytest.approx(fused["b"])
    assert fused["a"] > fused["c"] > 0 and fused["c"] == pytest.approx(fused["d"])
    weighted = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], weights=[2.0, 1.0], k=1)
    assert weighted["a"] > weighted["b"]
    with pytest.raises(ValueError, match="2 weights given for 1 ranked lists"):
        reciprocal_rank_fusion([["a"]], weights=[1, 2])
    with pytest.raises(ValueError, match="must not be negative"):
        reciprocal_rank_fusion([["a"]], weights=[-1])


def test_score_fusion_normalises_each_list():
    fused = score_fusion([{"a": 0.9, "b": 0.5}, {"b": 30.0, "c": 10.0}], weights=[1.0, 1.0])
    assert fused == pytest.approx({"a": 1.0, "b": 1.0, "c": 0.0})
    assert score_fusion([{"a": 2.0}]) == {"a": 1.0}


def test_dedup_drops_repeated_ids_and_near_identical_text_keeping_the_best():
    text = "the streaming pipeline reads events from rabbitmq and writes them to qdrant " * 3
    chunks = [
        chunk("1", text, 0.9, "https://substack.example/a"),
        chunk("1", text, 0.8, "https://substack.example/a"),
        chunk("2", text.upper() + " Subscribe!", 0.7, "https://medium.example/a"),
        chunk("3", "graph attention networks weigh neighbours by learned attention", 0.6),
    ]
    kept = deduplicate(chunks)
    assert [c.id for c in kept] == ["1", "3"]
    assert [c.id for c in deduplicate(chunks, limit=1)] == ["1"]
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        deduplicate(chunks, threshold=0)


def test_dedup_keeps_different_passages_of_the_same_article():
    chunks = [
        chunk("1", "first part about quantization with gptq and bits", 0.9, "https://a"),
        chunk("2", "second part about llama cpp and gguf files", 0.8, "https://a"),
    ]
    assert len(deduplicate(chunks)) == 2


@pytest.mark.parametrize("reranker", [NoReranker(), EvidenceReranker()], ids=lambda r: r.name)
def test_reranker_contract(reranker):
    chunks = [
        chunk("1", "gptq quantization", 0.03, "https://a", "Quantization with GPTQ"),
        chunk("3", "unrelated", 0.025, "https://b", "Graphs"),
        chunk("2", "gptq again", 0.02, "https://a", "Quantization with GPTQ"),
    ]  # fused order, best first
    assert isinstance(reranker, Reranker)
    ranked = reranker.rerank("What is GPTQ quantization?", chunks)
    assert sorted(c.id for c in ranked) == ["1", "2", "3"]
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    assert reranker.rerank("anything", []) == []


def test_evidence_reranker_prefers_the_document_that_matches_in_several_places_and_title():
    chunks = [
        chunk("lucky", "a passage mentioning gptq once", 0.030, "https://b", "Graph networks"),
        chunk("1", "gptq quantizes weights", 0.029, "https://a", "4-bit Quantization with GPTQ"),
        chunk("2", "gptq uses second order", 0.028, "https://a", "4-bit Quantization with GPTQ"),
        *(chunk(f"f{i}", "filler", 0.020 - i / 1000, f"https://f{i}", "Other") for i in range(5)),
    ]
    ranked = EvidenceReranker().rerank("How does GPTQ quantization work?", chunks)
    assert ranked[0].link == "https://a"
    assert ranked[0].scores["evidence"] == ranked[0].score


def test_build_reranker_by_name():
    assert build_reranker("none").name == "none"
    assert build_reranker("evidence").name == "evidence"
    assert isinstance(build_reranker("cross-encoder", "/models/ce"), CrossEncoderReranker)
    with pytest.raises(ImproperlyConfigured, match="needs RAG_RERANKER_MODEL"):
        build_reranker("cross-encoder")
    with pytest.raises(ImproperlyConfigured, match="unknown reranker 'magic'"):
        build_reranker("magic")


def test_to_context_numbers_sources_once_per_link():
    chunks = [
        chunk("1", "GPTQ uses second-order information.", link="https://a", title="GPTQ"),
        chunk("2", "Graphs.", link="https://b", title="GAT"),
        chunk("3", "GPTQ runs layer by layer.", link="https://a", title="GPTQ"),
    ]
    context = to_context(chunks)
    assert context.count("[1] GPTQ — Ada Lovelace") == 2
    assert "[2] GAT — Ada Lovelace\nGraphs." in context
    assert context.endswith("[1] GPTQ — Ada Lovelace\nGPTQ runs layer by layer.")
    assert "https://" not in context
    assert to_context([]) == ""
    short = to_context(chunks, max_chars=60)
    assert "Graphs." not in short and short.startswith("[1] GPTQ — Ada Lovelace")


def test_with_score_copies_and_keeps_the_earlier_stage_scores():
    original = chunk("a", "LoRA trains two small matrices.", 0.5)
    scored = original.with_score(0.9, "evidence")
    assert scored is not original and (original.score, dict(original.scores)) == (0.5, {})
    assert scored.score == 0.9 and scored.scores == {"evidence": 0.9}
    assert scored.with_score(0.7, "cross").scores == {"evidence": 0.9, "cross": 0.7}
    assert dataclasses.replace(scored, score=0.9) == scored  # every other field copied
