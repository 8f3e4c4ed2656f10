"""The evaluation pipeline's configuration (``configs/evaluating.yaml`` ``parameters:``)."""

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_twin.domain.exceptions import InvalidInput


class GateThresholds(BaseModel):
    """When the evaluated twin may be promoted. Ratios compare the twin with its base model on
    metrics where lower is better; judge minimums apply only when a judge ran.

    Attributes:
        max_perplexity_ratio: The twin's perplexity may be at most this times the base's.
        max_style_delta_ratio: The twin's ``style_delta`` may be at most this times the base's.
        min_judge_accuracy: Lowest acceptable mean judge accuracy (1-3) of the twin.
        min_judge_style: Lowest acceptable mean judge style score (1-3) of the twin.
        min_win_rate: Lowest acceptable share of pairwise comparisons the twin wins against the
            base (0-1; ties count as not won).
    """

    model_config = ConfigDict(extra="forbid")

    max_perplexity_ratio: float = Field(default=1.0, gt=0)
    max_style_delta_ratio: float = Field(default=1.25, gt=0)
    min_judge_accuracy: float = Field(default=1.5, ge=1, le=3)
    min_judge_style: float = Field(default=1.5, ge=1, le=3)
    min_win_rate: float = Field(default=0.0, ge=0, le=1)


class EvaluationConfig(BaseModel):
    """What to evaluate and how.

    Attributes:
        model_name: Registered model name.
        model_version: ``latest`` (newest registered), ``production``, ``staging`` or a number.
        max_samples: Test rows evaluated (a seeded sample of the test split when it has more).
        seed: Seed of that sample.
        max_new_tokens: Most tokens per generated answer (greedy decoding).
        batch_size: Prompts generated (and scored for perplexity) together.
        repetition_penalty: Generation's repetition penalty (1: none; 1.1 is the inference
            service's default ``LLM_REPETITION_PENALTY``).
        max_length: Most tokens of prompt + answer scored for perplexity (longer rows are cut).
        device: ``auto`` (cuda when available), ``cpu`` or ``cuda``.
        threads: Torch CPU threads (0: torch's default).
        use_vllm: ``auto`` generates with vLLM when it is installed and CUDA is available;
            ``never`` always uses transformers.
        style_words: Most frequent function words of the author used by Burrows' Delta.
        judge: ``auto`` (judge when a judge LLM is configured: JUDGE_BASE_URL/OPENAI_BASE_URL),
            ``always`` (fail when none is), ``never``.
        judge_retries: Re-asks of the judge after a malformed reply before counting a failure.
        judge_max_tokens: Most tokens of one judge reply.
        samples_in_report: Test rows shown side by side in the report.
        thresholds: The promotion gate (see :class:`GateThresholds`).
        promote_to: ``none``, ``staging`` or ``production``: the stage given to the version when
            the gate passes.
        tracking: ``comet`` (offline archive without COMET_API_KEY) or ``none``.
        force: Evaluate again even when results for this version, config and data exist.
    """

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(default="llm-twin", min_length=1)
    model_version: str = "latest"
    max_samples: int = Field(default=10, ge=1)
    seed: int = 42
    max_new_tokens: int = Field(default=80, ge=1, le=4096)
    batch_size: int = Field(default=10, ge=1)
    repetition_penalty: float = Field(default=1.1, ge=1, le=2)
    max_length: int = Field(default=512, ge=16)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=0, ge=0, le=256)
    use_vllm: Literal["auto", "never"] = "auto"
    style_words: int = Field(default=60, ge=5, le=300)
    judge: Literal["auto", "always", "never"] = "auto"
    judge_retries: int = Field(default=2, ge=0, le=10)
    judge_max_tokens: int = Field(default=300, ge=16)
    samples_in_report: int = Field(default=3, ge=0)
    thresholds: GateThresholds = Field(default_factory=GateThresholds)
    promote_to: Literal["none", "staging", "production"] = "none"
    tracking: Literal["comet", "none"] = "comet"
    force: bool = False

    @field_validator("model_version", mode="before")
    @classmethod
    def _version(cls, value: object) -> str:
        text = str(value).strip().lower()
        if text in ("latest", "production", "staging") or (text.isdigit() and int(text) > 0):
            return text
        raise ValueError("must be latest, production, staging or a version number (1, 2, ...)")

    def fingerprint(self, **inputs: object) -> str:
        """Hash of every setting that changes the results plus ``inputs`` (version, its training
        fingerprint, dataset version, judge): same fingerprint, same evaluation."""
        ignored = {"promote_to", "thresholds", "tracking", "force", "samples_in_report", "threads"}
        payload = {k: v for k, v in self.model_dump(mode="json").items() if k not in ignored}
        text = json.dumps({"config": payload, "inputs": inputs}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_config(values: dict[str, Any]) -> EvaluationConfig:
    """Validate ``values``; raise ``InvalidInput`` naming each bad field."""
    try:
        return EvaluationConfig.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'config'}: {item['msg']}"
            for item in error.errors()
        )
        raise InvalidInput(f"invalid evaluation config: {problems}") from None
