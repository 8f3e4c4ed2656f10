"""Rerankers: reorder the fused candidates before the top-k is cut.

A reranker is any object with ``name`` and ``rerank(query, chunks) -> chunks`` (see
:class:`Reranker`). Three ship here:

- ``evidence`` (the offline default, no model): combines each chunk's fused score with the
  evidence for its whole source document among the candidates (how many of its passages
  matched, how well) and with how many of the question's keywords the document title holds.
  Readers ask about an article, so a passage from the article that matches the question in
  several places and in its title is the better answer than an isolated lucky passage.
- ``cross-encoder``: a sentence-transformers cross-encoder from a local folder
  (``RAG_RERANKER_MODEL``); none can be downloaded offline, so it is used only when configured.
- ``none``: keeps the fused order.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from llm_twin.application.rag.chunks import RetrievedChunk
from llm_twin.domain.exceptions import ImproperlyConfigured


@runtime_checkable
class Reranker(Protocol):
    """The reranker plug-in contract.

    ``rerank`` returns the same chunks (a subset is allowed, never new ones), best first,
    each carrying its new ``score``.
    """

    name: str

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk]) -> list[RetrievedChunk]: ...


class NoReranker:
    """Keeps the order it is given."""

    name = "none"

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk]) -> list[RetrievedChunk]:
        return list(chunks)


class EvidenceReranker:
    """Offline reranker: chunk score + source-document evidence + title keyword match.

    ``score = fused/max_fused + doc_weight · doc/max_doc + title_weight · title_match`` where
    ``doc`` sums the fused scores of the document's candidate passages with decaying weights
    (1, 1/2, 1/3…) and ``title_match`` is the share of the question's keywords (stemmed, stop
    words removed) found in the document's title.

    Args:
        doc_weight: Weight of the document-level evidence.
        title_weight: Weight of the title keyword match.
    """

    name = "evidence"

    def __init__(self, doc_weight: float = 0.5, title_weight: float = 0.3) -> None:
        self.doc_weight = doc_weight
        self.title_weight = title_weight

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk]) -> list[RetrievedChunk]:
        from llm_twin.application.sparse import tokenize

        if not chunks:
            return []
        top = max(c.score for c in chunks) or 1.0
        by_doc: dict[str, list[float]] = defaultdict(list)
        for chunk in chunks:
            by_doc[_doc_key(chunk)].append(chunk.score / top)
        doc_scores = {
            key: sum(s / rank for rank, s in enumerate(sorted(scores, reverse=True), start=1))
            for key, scores in by_doc.items()
        }
        top_doc = max(doc_scores.values()) or 1.0
        terms = set(tokenize(query))
        title_cache: dict[str, float] = {}
        rescored = []
        for chunk in chunks:
            key = _doc_key(chunk)
            if key not in title_cache:
                title_terms = set(tokenize(chunk.title or "")) if terms else set()
                title_cache[key] = len(terms & title_terms) / len(terms) if terms else 0.0
            score = (
                chunk.score / top
                + self.doc_weight * doc_scores[key] / top_doc
                + self.title_weight * title_cache[key]
            )
            rescored.append(chunk.with_score(score, self.name))
        return sorted(rescored, key=lambda c: c.score, reverse=True)


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder scoring (question, passage) pairs.

    Args:
        model_path: Local folder (or hub id when online) of the cross-encoder.
        device: ``cpu`` or ``cuda``.
        batch_size: Pairs per forward pass.
    """

    name = "cross-encoder"

    def __init__(self, model_path: str, device: str = "cpu", batch_size: int = 16) -> None:
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            try:
                self._model = CrossEncoder(self.model_path, device=self.device)
            except OSError as error:
                raise ImproperlyConfigured(
                    f"cannot load the reranker model {self.model_path!r}: {error}"
                ) from None
        return self._model

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk]) -> list[RetrievedChunk]:
        if not chunks:
            return []
        pairs = [(query, chunk.content) for chunk in chunks]
        scores = self._load().predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        rescored = [
            chunk.with_score(float(s), self.name) for chunk, s in zip(chunks, scores, strict=True)
        ]
        return sorted(rescored, key=lambda c: c.score, reverse=True)


def _doc_key(chunk: RetrievedChunk) -> str:
    return chunk.link or chunk.document_id


def build_reranker(
    name: str, model_path: str = "", device: str = "cpu", **options: float
) -> Reranker:
    """The reranker called ``name`` (``evidence``, ``cross-encoder``, ``none``).

    Raises:
        ImproperlyConfigured: unknown name, or ``cross-encoder`` without a model path.
    """
    if name == "none":
        return NoReranker()
    if name == "evidence":
        return EvidenceReranker(**options)
    if name == "cross-encoder":
        if not model_path:
            raise ImproperlyConfigured(
                "RAG_RERANKER=cross-encoder needs RAG_RERANKER_MODEL (a local model folder)"
            )
        return CrossEncoderReranker(model_path, device)
    raise ImproperlyConfigured(
        f"unknown reranker {name!r} (RAG_RERANKER: evidence, cross-encoder or none)"
    )
