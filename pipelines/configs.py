"""One validated configuration per pipeline: the ``parameters:`` block of its YAML file.

``tools/run.py`` reads the file once, applies the ``--set`` overrides and validates the result
into the pipeline's model (the annotation of its ``config`` argument), so a wrong key or value
fails before anything runs, with a message naming it. Steps take the part they need
(:meth:`PipelineConfig.part`, a sub-model, or plain values). The training and evaluation
pipelines use the library's own models (``TrainingConfig``, ``EvaluationConfig``).
"""

import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_twin.application.rag.evaluation.config import RagEvaluationConfig
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.evaluation.config import EvaluationConfig

if typing.TYPE_CHECKING:
    from llm_twin.application.crawlers.discovery import DiscoveryOptions
    from llm_twin.application.preprocessing.sync import FeatureSyncConfig
    from llm_twin.settings import Settings

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class InvalidConfig(InvalidInput):
    """A pipeline config file, or a value in it, is wrong (the message names the key)."""


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """The YAML mapping in ``path`` (an empty file is ``{}``).

    Args:
        path: The file.
        what: How messages name it (``"CT config configs/ct.yaml"``).

    Raises:
        InvalidConfig: the file is missing, is not YAML, or is not a mapping.
    """
    import yaml

    if not path.is_file():
        raise InvalidConfig(f"{what} not found ({path} does not exist)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidConfig(f"{what} is not valid YAML: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidConfig(f"{what} must be a mapping of keys to values")
    return document


def load_parameters(config: str) -> dict[str, Any]:
    """The ``parameters`` mapping of the pipeline config file ``config``.

    Args:
        config: Path of a pipeline config (``configs/x.yaml``); relative paths are taken from the
            project root.

    Raises:
        InvalidConfig: the file is missing, is not YAML, or has no ``parameters`` mapping.
    """
    from llm_twin.settings import PROJECT_ROOT

    document = read_yaml_mapping(PROJECT_ROOT / Path(config), f"pipeline config {config!r}")
    parameters = document.get("parameters")
    if not isinstance(parameters, dict):
        raise InvalidConfig(f"pipeline config {config!r} has no 'parameters:' mapping")
    return parameters


def _accepts_none(kind: type[BaseModel], name: str) -> bool:
    annotation = kind.model_fields[name].annotation
    return annotation is Any or type(None) in typing.get_args(annotation)


def validate_config(kind: type[ConfigT], values: dict[str, Any], source: str) -> ConfigT:
    """``values`` (a ``parameters`` block, overrides applied) validated into ``kind``.

    A ``null`` value of a field that takes no ``None`` means its default, as an empty YAML
    value (``links:``) always has.

    Args:
        kind: The pipeline's config model.
        values: The parameters.
        source: What the messages name (the pipeline or the file).

    Raises:
        InvalidConfig: naming every wrong key (``sft.learning_rate: ...``) and why, on one line.
    """
    present = {
        key: value
        for key, value in values.items()
        if value is not None or key not in kind.model_fields or _accepts_none(kind, key)
    }
    try:
        return kind.model_validate(present)
    except ValidationError as error:
        raise InvalidConfig(f"invalid {source} config: {_problems(error)}") from None


def _problems(error: ValidationError) -> str:
    """Every problem of ``error`` on one line: ``key.sub: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'config'}: {item['msg']}"
        for item in error.errors()
    )


def config_from_file(kind: type[ConfigT], config: str) -> ConfigT:
    """The pipeline config file ``config`` (see :func:`load_parameters`) validated into ``kind``.

    Raises:
        InvalidConfig: the file is unusable or a value is wrong (the message names both).
    """
    return validate_config(kind, load_parameters(config), repr(config))


class PipelineConfig(BaseModel):
    """Base of the pipeline configs: an unknown key fails (a typo is never silently ignored)."""

    model_config = ConfigDict(extra="forbid")

    def part(self, kind: type[ConfigT]) -> ConfigT:
        """The fields of ``kind`` taken from this config: what one step needs (and, for a cached
        step, all that its cache key depends on)."""
        return kind.model_validate(self.model_dump(include=set(kind.model_fields)))


# ---- digital data ETL ---------------------------------------------------------------------


class DiscoveryConfig(PipelineConfig):
    """``discovery:`` of an ETL config: how far root-URL discovery goes (an unset key takes
    its ``CRAWL_*``/``GITHUB_*`` setting)."""

    max_pages: int | None = Field(
        default=None,
        ge=1,
        description="New pages crawled per source and run, the rest left for the next run "
        "(default CRAWL_MAX_PAGES).",
    )
    max_listing_pages: int | None = Field(
        default=None,
        ge=1,
        description="Archive pages read per source (default CRAWL_MAX_LISTING_PAGES).",
    )
    delay_s: float | None = Field(
        default=None,
        ge=0,
        description="Seconds between two requests to one host (default CRAWL_DELAY_S).",
    )
    github_web_url: str | None = Field(
        default=None,
        description="Where GitHub accounts live, e.g. a GitHub Enterprise (default "
        "GITHUB_WEB_URL).",
    )
    github_api_url: str | None = Field(
        default=None, description="GitHub REST API base URL (default GITHUB_API_URL)."
    )


class DigitalDataEtlConfig(PipelineConfig):
    """``configs/digital_data_etl_*.yaml``: one author's links into the warehouse."""

    user_full_name: str = Field(description='The author\'s full name, e.g. "Maxime Labonne".')
    links: list[str] = Field(
        default_factory=list,
        description="Article, LinkedIn profile and repository URLs (http, https or git), or root "
        "URLs (a blog, a Substack, a Medium profile, a GitHub account) to discover from.",
    )
    force: bool = Field(
        default=False,
        description="Re-crawl links already in the warehouse (changed content is updated).",
    )
    platforms: dict[str, str] = Field(
        default_factory=dict,
        description="{URL prefix: platform} routing a custom domain to a platform crawler "
        "(medium, substack, linkedin, github, git, custom).",
    )
    concurrency: int | None = Field(
        default=None, description="Links crawled at once; default the CRAWL_CONCURRENCY setting."
    )
    discovery: DiscoveryConfig = Field(
        default_factory=DiscoveryConfig,
        description="Root-URL discovery: a blog's home, a Substack, a Medium profile or a GitHub "
        "account in links stands for everything it lists.",
    )

    def discovery_options(self, settings: "Settings") -> "DiscoveryOptions":
        """The library's :class:`DiscoveryOptions`: the settings, overridden by ``discovery``,
        with the ``platforms`` routing.

        Args:
            settings: The crawl settings (``CRAWL_MAX_PAGES``…).
        """
        import dataclasses

        from llm_twin.application.crawlers.discovery import DiscoveryOptions

        return dataclasses.replace(
            DiscoveryOptions.from_settings(settings, self.platforms),
            **self.discovery.model_dump(exclude_none=True),
        )


# ---- feature engineering ------------------------------------------------------------------


class FeatureEngineeringConfig(PipelineConfig):
    """``configs/feature_engineering.yaml``: what to clean, chunk, embed and index."""

    author_full_names: list[str] = Field(
        default_factory=list, description="Only these authors' documents (empty: all authors)."
    )
    categories: list[str] = Field(
        default_factory=list,
        description="Only these categories: articles, posts, repositories (empty: all).",
    )
    chunking: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Per category {chunk_tokens, overlap_tokens, min_chunk_tokens}.",
    )
    batch_documents: int = Field(default=32, description="Documents per encoder batch.")
    reindex: bool = Field(
        default=False,
        description="Re-process unchanged documents too (after changing chunking or embedder).",
    )
    mask_pii: bool = Field(
        default=True,
        description="Mask e-mail addresses and phone numbers of anyone but the author before "
        "indexing (and so before the datasets).",
    )
    pii_keep: list[str] = Field(
        default_factory=list,
        description="Addresses and phone numbers never masked (a project's public contact).",
    )

    # An unknown category or a bad chunk size fails when the config is loaded, not in a step.
    @field_validator("categories")
    @classmethod
    def _known_categories(cls, names: list[str]) -> list[str]:
        from llm_twin.domain.types import DataCategory

        for name in names:
            DataCategory.parse(name)
        return names

    @field_validator("chunking")
    @classmethod
    def _valid_chunking(cls, chunking: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        from llm_twin.application.preprocessing.chunking import ChunkingConfig
        from llm_twin.domain.types import DataCategory

        for name, values in chunking.items():
            DataCategory.parse(name)
            try:
                ChunkingConfig(**values)
            except ValidationError as error:
                raise ValueError(f"{name}: {_problems(error)}") from None
        return chunking

    def sync_config(self) -> "FeatureSyncConfig":
        """The library's :class:`FeatureSyncConfig` (category names in any spelling).

        Raises:
            ValueError: an unknown category or an invalid chunking setting (named).
        """
        from llm_twin.application.preprocessing.chunking import ChunkingConfig
        from llm_twin.application.preprocessing.private_data import PrivateDataConfig
        from llm_twin.application.preprocessing.sync import FeatureSyncConfig
        from llm_twin.domain.types import DataCategory

        return FeatureSyncConfig(
            author_full_names=[name for name in self.author_full_names if name.strip()],
            categories=[DataCategory.parse(name) for name in self.categories],
            chunking={
                DataCategory.parse(name): ChunkingConfig(**values)
                for name, values in self.chunking.items()
            },
            batch_documents=self.batch_documents,
            reindex=self.reindex,
            private_data=PrivateDataConfig(enabled=self.mask_pii, keep=self.pii_keep),
        )


# ---- dataset generation -------------------------------------------------------------------


class Seeded(PipelineConfig):
    """The seed shared by the extract sample, the generators and the split."""

    seed: int = Field(default=42, description="Seed of sampling, generation and split.")


class ExtractSampling(Seeded):
    """How documents are cut into extracts and how many are used."""

    extracts: dict[str, int | bool] = Field(
        default_factory=dict,
        description="{min_chars, max_chars, max_per_document, sections} (see ExtractConfig).",
    )
    max_extracts: int = Field(
        default=0, description="At most this many extracts (seeded sample; 0: all)."
    )


def _options(of: str) -> Any:  # a pydantic FieldInfo (typed Any by pydantic itself)
    """A generator options field: keyword arguments, default none."""
    return Field(default_factory=dict, description=f"Keyword arguments of {of}.")


class InstructGeneration(ExtractSampling):
    """What the instruct generation step takes (its cache key)."""

    generator: str = Field(
        default="structure",
        description="structure (offline: the documents' structure and a reader's questions), "
        "keyphrase (offline, key phrases), local (SmolLM2) or openai.",
    )
    generator_options: dict[str, Any] = _options("the generator")
    mode: str = Field(
        default="backtranslation",
        description="backtranslation (answer = the author's text) or answer (the LLM answers).",
    )


class PreferenceGeneration(ExtractSampling):
    """What the preference generation step takes (its cache key)."""

    max_extracts: int = Field(
        default=32, description="At most this many extracts (LLM time grows with it; 0: all)."
    )
    instruction_generator: str = Field("keyphrase", description="Writes the prompts.")
    instruction_generator_options: dict[str, Any] = _options("the prompt writer")
    rejected_generator: str = Field("local", description="Writes the rejected answers.")
    rejected_generator_options: dict[str, Any] = _options("the rejected-answer writer")
    ranking: str = Field(
        default="author",
        description="author (chosen = the author's text) or judge (an LLM picks chosen).",
    )
    judge_options: dict[str, Any] = _options("the judge (an openai generator)")
    max_similarity: float = Field(
        default=0.5,
        description="Drop pairs whose chosen and rejected share this much (word trigrams).",
    )

    def uses_local_llm(self) -> bool:
        """True when a generator is the local LLM (it needs the converted offline base model)."""
        return "local" in (self.instruction_generator, self.rejected_generator)


class DatasetSplit(Seeded):
    """What the filter-and-split step takes (its cache key)."""

    filters: dict[str, Any] = Field(
        default_factory=dict, description="Quality filter settings (FilterConfig)."
    )
    test_size: float = Field(default=0.1, description="Fraction of documents per category in test.")


class DatasetConfig(DatasetSplit):
    """What both dataset pipelines take besides their generation."""

    author_full_names: list[str] = Field(
        default_factory=list, description="Only these authors (empty: all)."
    )
    categories: list[str] = Field(
        default_factory=list, description="Only these categories (empty: all)."
    )
    hub_repo_id: str = Field(
        default="",
        description="Also push to this Hugging Face dataset repo (needs a token; empty: no).",
    )

    #: The parameters listed in the dataset card, in this order.
    card_fields: ClassVar[tuple[str, ...]] = ()

    def card_parameters(self) -> dict[str, Any]:
        """The parameters listed in the dataset card (:attr:`card_fields`)."""
        return {name: getattr(self, name) for name in self.card_fields}


class GenerateInstructDatasetsConfig(DatasetConfig, InstructGeneration):
    """``configs/generate_instruct_datasets.yaml``: instruction back-translation."""

    card_fields = ("generator", "mode", "max_extracts")


class GeneratePreferenceDatasetsConfig(DatasetConfig, PreferenceGeneration):
    """``configs/generate_preference_datasets.yaml``: author text vs. a generic answer."""

    include_feedback: bool = Field(
        default=True,
        description="Add the service's user corrections as pairs (origin feedback).",
    )
    feedback_dir: str | None = Field(
        default=None, description="Folder of the service's traces (default TRACES_DIR)."
    )
    card_fields = ("instruction_generator", "rejected_generator", "ranking", "max_extracts")


# ---- end to end -----------------------------------------------------------------------------


class EndToEndDataConfig(PipelineConfig):
    """``configs/end_to_end_data.yaml``: the stages and the config file each one reads."""

    import_dir: str = Field(
        default="",
        description="A warehouse JSON export to load first (relative to the project root; "
        "empty: no import).",
    )
    etl_configs: list[str] = Field(
        default_factory=list,
        description="digital_data_etl configs to crawl, one per author (needs internet).",
    )
    feature_engineering_config: str = Field(
        default="configs/feature_engineering.yaml",
        description="Config of the feature engineering stage.",
    )
    instruct_datasets_config: str = Field(
        default="configs/generate_instruct_datasets.yaml",
        description="Config of the instruct dataset stage.",
    )
    preference_datasets_config: str = Field(
        default="configs/generate_preference_datasets.yaml",
        description="Config of the preference dataset stage.",
    )
    preference_datasets: bool = Field(
        default=True, description="Also build the preference (DPO) dataset."
    )


# ---- evaluation ---------------------------------------------------------------------------


class EvaluatingConfig(EvaluationConfig, PipelineConfig):
    """``configs/evaluating.yaml``: the twin evaluation's fields (``EvaluationConfig``) plus the
    RAG evaluation run between it and the publishing."""

    rag_evaluation: bool = Field(
        default=True,
        description="Also evaluate retrieval and grounded answers with the evaluated version.",
    )
    rag: RagEvaluationConfig = Field(
        default_factory=RagEvaluationConfig, description="The RAG evaluation's settings."
    )
    reevaluate_production: bool = Field(
        default=True,
        description=(
            "When the production version's saved evaluation was measured with other settings "
            "(another evaluation profile), evaluate it again with these before the gate, so "
            "that no comparison is skipped for that reason (costs one more evaluation, once)."
        ),
    )
