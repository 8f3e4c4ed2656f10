"""The generator interface shared by the no-LLM, local-LLM and OpenAI-compatible generators.

A generator writes, for extracts of the author's text, the instruction each extract answers
(instruction back-translation; ``Generated.extra["template"]`` names the kind of
instruction); LLM generators can also write answers (the reference's mode,
and the generic "rejected" answers of preference pairs). Each reports its usage.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from llm_twin.application.dataset.samples import Extract
from llm_twin.domain.exceptions import ImproperlyConfigured


@dataclass
class Usage:
    """What a generator spent.

    Attributes:
        requests: Model calls made (HTTP requests or local ``generate`` calls).
        retries: Calls repeated because the answer was malformed or the call failed.
        failures: Items that got no usable output after every retry.
        prompt_tokens: Tokens sent.
        completion_tokens: Tokens received.
        cost_usd: ``prompt_tokens`` and ``completion_tokens`` priced by the configured rates.
        seconds: Wall time spent generating.
    """

    requests: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def counts(self, prefix: str) -> dict[str, int | float]:
        """The usage as step counts named ``<prefix>_<field>``."""
        values = asdict(self)
        values["cost_usd"] = round(values["cost_usd"], 6)
        values["seconds"] = round(values["seconds"], 2)
        return {f"{prefix}_{name}": value for name, value in values.items()}


@dataclass
class Generated:
    """One generated item: ``None`` fields mean the generator failed for this item."""

    instruction: str | None = None
    answer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Generator(ABC):
    """Writes instructions (and, for LLM generators, answers).

    Attributes:
        kind: ``structure``, ``keyphrase``, ``local`` or ``openai``.
        usage: Accumulated :class:`Usage`.
    """

    kind: str = "generator"

    def __init__(self) -> None:
        self.usage = Usage()

    @property
    @abstractmethod
    def name(self) -> str:
        """What made the samples (kind, model, template version): the ``generator`` column."""

    @abstractmethod
    def instructions(self, extracts: Sequence[Extract]) -> list[Generated]:
        """For each extract, the instruction it answers (``Generated.instruction``)."""

    def instructions_and_answers(self, extracts: Sequence[Extract]) -> list[Generated]:
        """For each extract, an instruction and an answer written by the model from it."""
        raise ImproperlyConfigured(
            f"the {self.kind} generator cannot write answers: use mode 'backtranslation' or an "
            "LLM generator (local, openai)"
        )

    def answers(self, instructions: Sequence[str]) -> list[str | None]:
        """A generic answer to each instruction, written without the author's text."""
        raise ImproperlyConfigured(
            f"the {self.kind} generator cannot write answers: use an LLM generator (local, openai)"
        )

    def judge(self, instruction: str, answer_a: str, answer_b: str) -> str | None:
        """``"A"`` or ``"B"``: the better answer, or ``None`` when the judge failed."""
        raise ImproperlyConfigured(f"the {self.kind} generator cannot judge answers")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models and clients."""


GENERATOR_KINDS = ("structure", "keyphrase", "local", "openai")


def build_generator(kind: str, options: dict[str, Any] | None = None) -> Generator:
    """A generator by kind, configured by ``options`` (the config's keyword arguments).

    ``structure`` (the default, offline) writes instructions from the documents' structure
    and a reader's questions; ``keyphrase`` from titles and key phrases (offline, MiniLM).

    ``openai`` takes ``base_url``/``model``/``api_key`` from the options, else from the
    ``OPENAI_BASE_URL``/``OPENAI_MODEL_ID``/``OPENAI_API_KEY`` settings (the key never comes
    from a config file). ``local`` takes ``model_path`` from the options, else
    ``LLM_MODEL_PATH`` (the converted SmolLM2 base model by default).

    Raises:
        ImproperlyConfigured: unknown kind, unknown option or missing server settings.
    """
    options = dict(options or {})
    try:
        if kind == "structure":
            from llm_twin.application.dataset.structure import StructureGenerator

            return StructureGenerator(**options)
        if kind == "keyphrase":
            from llm_twin.application.dataset.keyphrase import KeyphraseGenerator

            return KeyphraseGenerator(**options)
        if kind == "local":
            from llm_twin.application.dataset.local_llm import LocalLLMGenerator
            from llm_twin.settings import get_settings

            settings = get_settings()
            options.setdefault("model_path", settings.llm_model_path)
            options.setdefault("device", settings.llm.device)
            return LocalLLMGenerator(**options)
        if kind == "openai":
            from llm_twin.application.dataset.openai_compatible import OpenAICompatibleGenerator
            from llm_twin.settings import get_settings

            settings = get_settings()
            if "api_key" in options:
                raise ImproperlyConfigured(
                    "do not put the API key in the config: set OPENAI_API_KEY instead"
                )
            base_url = options.pop("base_url", None) or settings.llm.openai_base_url
            if not base_url and settings.llm.openai_api_key is None:
                raise ImproperlyConfigured(
                    "the openai generator needs OPENAI_BASE_URL (a local server) or "
                    "OPENAI_API_KEY (api.openai.com)"
                )
            model = options.pop("model", None) or settings.llm.openai_model_id
            key = (
                settings.llm.openai_api_key.get_secret_value()
                if settings.llm.openai_api_key
                else ""
            )
            return OpenAICompatibleGenerator(base_url, model, key, **options)
    except TypeError as error:
        raise ImproperlyConfigured(f"invalid option for the {kind} generator: {error}") from None
    raise ImproperlyConfigured(f"unknown generator {kind!r}; use one of {GENERATOR_KINDS}")
