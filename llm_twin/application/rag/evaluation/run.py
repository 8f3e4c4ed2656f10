"""The RAG evaluation: labelled questions → retrieval metrics → answers → faithfulness and
relevance, as one JSON-ready dict.

Retrieval and answering use the inference service's own code: the retriever built by
``ContextRetriever.from_settings`` and ``TwinService.prepare``/``answer``
(:mod:`llm_twin.application.inference`) with the
``LLM_BACKENDS`` chain (locally: the registry's production twin, else the base model).
"""

import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.application.rag.evaluation.config import RagEvaluationConfig, parse_config
from llm_twin.application.rag.evaluation.generation import (
    JudgeScorer,
    OfflineScorer,
    Passage,
    build_scorer,
)
from llm_twin.application.rag.evaluation.questions import (
    GENERATED,
    USER,
    LabelledQuestion,
    generated_questions,
    load_questions_file,
    resolve_path,
)
from llm_twin.application.rag.evaluation.retrieval import (
    first_hit,
    retrieve_all,
    score,
    unique_links,
)
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from llm_twin.application.inference import TwinService
    from llm_twin.application.rag import ContextRetriever, RetrievedChunk
    from llm_twin.infrastructure.llm.base import GenerationParams


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return _round(sum(present) / len(present)) if present else None


def load_labelled_questions(
    settings: Settings, config: RagEvaluationConfig
) -> tuple[list[LabelledQuestion], dict[str, Any]]:
    """Every question the config asks for, and where they came from.

    Raises:
        InvalidInput: no question source configured, no dataset, a bad questions file.
    """
    questions: list[LabelledQuestion] = []
    origin: dict[str, Any] = {}
    if config.generated:
        generated, version = generated_questions(
            settings.storage.data_dir,
            version=config.dataset_version,
            limit=config.max_generated,
            seed=config.seed,
            hide_titles=config.hide_titles,
        )
        questions += generated
        origin[GENERATED] = {"dataset_version": version}
    if config.questions_file:
        questions += load_questions_file(config.questions_file)
        origin[USER] = {"file": str(resolve_path(config.questions_file))}
    if not questions:
        raise InvalidInput(
            "the RAG evaluation has no questions: set generated: true (the instruct "
            "dataset's test split) and/or questions_file"
        )
    return questions, origin


def context_passages(chunks: Sequence["RetrievedChunk"], max_chars: int) -> list[Passage]:
    """The passages of ``chunks`` that ``to_context(chunks, max_chars=...)`` puts in the
    prompt (a prefix of them), numbered as there: one number per link."""
    from llm_twin.application.rag import to_context

    context = to_context(chunks, max_chars=max_chars)
    numbers: dict[str, int] = {}
    passages = []
    for chunk in chunks:
        if chunk.content.strip() not in context:
            break
        key = chunk.link or chunk.document_id
        number = numbers.setdefault(key, len(numbers) + 1)
        passages.append(Passage(number, chunk.link, chunk.content))
    return passages


def retrieval_metrics(
    questions: Sequence[LabelledQuestion],
    ranked: Sequence[list[str]],
    origin: dict[str, Any],
    max_misses: int,
) -> dict[str, Any]:
    """recall@1/3/5 and MRR combined and per question source, plus the first misses."""
    combined = score(ranked, [q.links for q in questions])
    sources = {}
    for source, extra in origin.items():
        picked = [i for i, q in enumerate(questions) if q.source == source]
        sources[source] = {
            **score([ranked[i] for i in picked], [questions[i].links for i in picked]),
            "questions": len(picked),
            **extra,
        }
    misses = [
        {
            "question": q.question,
            "source": q.source,
            "expected_links": list(q.links),
            "retrieved_links": links[:5],
        }
        for q, links in zip(questions, ranked, strict=True)
        if first_hit(links, q.links) is None
    ]
    return {
        **combined,
        "questions": len(questions),
        "sources": sources,
        "misses": misses[:max_misses],
        "miss_count": len(misses),
    }


def _answer_one(
    service: "TwinService",
    scorer: OfflineScorer | JudgeScorer,
    question: LabelledQuestion,
    chunks: Sequence["RetrievedChunk"],
    k: int,
    params: "GenerationParams",
) -> dict[str, Any]:
    """Answer ``question`` through the service and score the answer: one ``examples`` row.

    Args:
        service: The API's answering service.
        scorer: Scores faithfulness and relevance.
        question: The labelled question.
        chunks: What the retrieval step found for it (the passages the answer may use).
        k: Passages to retrieve.
        params: Generation parameters.
    """
    prepared = service.prepare(
        question.question,
        endpoint="evaluation",
        k=k,
        author=question.author,
        params=params,
        use_cache=False,
    )
    result = service.answer(prepared)
    passages = context_passages(chunks, service.settings.llm.context_chars)
    scored = scorer.score(question.question, result.answer, passages)
    retrieved = unique_links([c.link for c in chunks])
    return {
        "question": question.question,
        "source": question.source,
        "expected_links": list(question.links),
        "retrieved_links": retrieved,
        "hit_rank": first_hit(retrieved, question.links),
        "answer": result.answer,
        "sources_used": scored.sources_used,
        "faithfulness": _round(scored.faithfulness),
        "answer_relevance": _round(scored.answer_relevance),
        "statements": scored.statements,
        "supported": scored.supported,
        "failure": scored.failure,
        "model": result.model,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "generation_ms": round(result.latency_ms.generation, 1),
    }


def _generation_summary(
    config: RagEvaluationConfig,
    scorer: OfflineScorer | JudgeScorer,
    examples: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The ``generation`` section: mean scores of ``examples`` and how they were scored."""
    generation: dict[str, Any] = {
        "faithfulness": _mean([e["faithfulness"] for e in examples]),
        "answer_relevance": _mean([e["answer_relevance"] for e in examples]),
        "questions": len(examples),
        "scored": sum(e["faithfulness"] is not None for e in examples),
        "mode": scorer.mode,
        "model": examples[0]["model"] if examples else None,
    }
    if scorer.mode == "judge":
        generation |= {
            "judge_model": scorer.endpoint.model,
            "judge_requests": scorer.requests,
            "judge_malformed": scorer.malformed,
            "judge_failures": scorer.failures,
        }
    else:
        generation["support_threshold"] = config.support_threshold
    return generation


def answer_questions(
    settings: Settings,
    config: RagEvaluationConfig,
    retriever: "ContextRetriever",
    questions: Sequence[LabelledQuestion],
    chunks: Sequence[list["RetrievedChunk"]],
) -> dict[str, Any]:
    """Answer a seeded sample of ``n_generation`` questions through the inference service's
    code and score the answers; returns the ``generation`` section and its ``examples``.

    Args:
        settings: The project settings (``LLM_*``, ``JUDGE_*``, ``RAG_TOP_K``, ``DATA_DIR``).
        config: The evaluation's config.
        retriever: The retriever (its embedder also serves the offline scorer).
        questions: The labelled questions.
        chunks: Per question, what the retrieval step found.
    """
    from llm_twin.application.inference import ResponseCache, TraceStore, TwinService
    from llm_twin.infrastructure.llm.base import GenerationParams
    from llm_twin.infrastructure.llm.factory import build_llm
    from llm_twin.model.registry import served_model

    count = min(config.n_generation, len(questions))
    chosen = sorted(random.Random(config.seed).sample(range(len(questions)), count))
    scorer = build_scorer(settings, config, retriever.embedder)
    k = config.k or settings.rag.top_k
    params = GenerationParams.from_settings(
        settings, max_new_tokens=config.max_tokens, temperature=config.temperature
    )
    llm = build_llm(settings, served_model)
    llm.load()
    examples: list[dict[str, Any]] = []
    try:
        # The API's answering path; its traces go to their own folder, not the service's.
        traces = TraceStore(settings.storage.data_dir / "evaluation" / "rag" / "traces")
        service = TwinService(settings, retriever, llm, traces, ResponseCache(0))
        for index in chosen:
            examples.append(
                _answer_one(service, scorer, questions[index], chunks[index], k, params)
            )
            logger.info(
                "answered {}/{}: faithfulness {} relevance {}",
                len(examples),
                count,
                examples[-1]["faithfulness"],
                examples[-1]["answer_relevance"],
            )
    finally:
        llm.close()
        if hasattr(scorer, "close"):
            scorer.close()
    return {"generation": _generation_summary(config, scorer, examples), "examples": examples}


def evaluate_rag(
    settings: Settings, config: RagEvaluationConfig | dict[str, Any]
) -> dict[str, Any]:
    """Evaluate retrieval and generation of the RAG service on labelled questions.

    The embedded vector store is opened only for the duration of the call (it admits one
    process at a time) and closed at the end, whatever happens.

    Args:
        settings: The project settings (stores, ``RAG_*``, ``LLM_*``, ``JUDGE_*``).
        config: A :class:`RagEvaluationConfig` or its plain-data form.

    Returns:
        ``{"retrieval": {...}, "generation": {...}, "examples": [...], "k", "seconds"}``:
        see the README's "RAG evaluation" section.

    Raises:
        InvalidInput: bad config, no questions, a bad questions file, no dataset.
        ImproperlyConfigured: ``judge: on`` without a judge, LLM backends misconfigured.
    """
    from llm_twin.application.rag import ContextRetriever
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    config = parse_config(config)
    started = time.perf_counter()
    questions, origin = load_labelled_questions(settings, config)
    k = config.k or settings.rag.top_k
    logger.info(
        "RAG evaluation: {} questions ({}), k={}",
        len(questions),
        ", ".join(f"{s}: {sum(q.source == s for q in questions)}" for s in origin),
        k,
    )
    store = open_vector_store(settings)
    try:
        retriever = ContextRetriever.from_settings(settings, store=store)
        retrieval_started = time.perf_counter()
        chunks = retrieve_all(retriever, questions, k)
        retrieval_seconds = time.perf_counter() - retrieval_started
        ranked = [[c.link for c in found] for found in chunks]
        retrieval = retrieval_metrics(questions, ranked, origin, config.max_misses)
        logger.info(
            "retrieval: recall@1 {} recall@5 {} MRR {} ({:.1f} s)",
            retrieval["recall@1"],
            retrieval["recall@5"],
            retrieval["mrr"],
            retrieval_seconds,
        )
        generation_started = time.perf_counter()
        if config.n_generation > 0:
            answered = answer_questions(settings, config, retriever, questions, chunks)
        else:
            answered = {
                "generation": {
                    "faithfulness": None,
                    "answer_relevance": None,
                    "questions": 0,
                    "scored": 0,
                    "mode": "off",
                },
                "examples": [],
            }
        generation_seconds = time.perf_counter() - generation_started
    finally:
        store.close()
    return {
        "retrieval": retrieval,
        "generation": answered["generation"],
        "examples": answered["examples"],
        "k": k,
        "seconds": {
            "retrieval": round(retrieval_seconds, 2),
            "generation": round(generation_seconds, 2),
            "total": round(time.perf_counter() - started, 2),
        },
    }
