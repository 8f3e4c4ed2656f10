"""The evaluation pipeline's configuration (``configs/evaluating.yaml`` ``parameters:``)."""

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_twin.domain.exceptions import InvalidInput


class ProductionTolerances(BaseModel):
    """How much worse than the current production version the candidate may be (the production
    version's own saved evaluation is the reference; see :mod:`.gate`).

    Attributes:
        heldout_perplexity: Relative: the candidate's held-out-document perplexity may be at
            most ``(1 + this)`` times production's.
        perplexity: Relative, for the answer perplexity.
        style_delta: Relative, for the style Delta.
        retrieval_recall: Absolute: the RAG evaluation's recall@5 may be at most this much lower
            than production's.
        faithfulness: Absolute, for the RAG answers' faithfulness (0-1).
    """

    model_config = ConfigDict(extra="forbid")

    heldout_perplexity: float = Field(default=0.02, ge=0)
    perplexity: float = Field(default=0.02, ge=0)
    style_delta: float = Field(default=0.05, ge=0)
    retrieval_recall: float = Field(default=0.05, ge=0, le=1)
    faithfulness: float = Field(default=0.05, ge=0, le=1)


class GateThresholds(BaseModel):
    """When the evaluated twin may be promoted. Ratios compare the twin with its base model on
    metrics where lower is better; the production tolerances compare it with the version in
    production; judge minimums apply only when a judge ran.

    Attributes:
        max_heldout_perplexity_ratio: The twin's held-out-document perplexity may be at most
            this times the base's.
        max_perplexity_ratio: The twin's answer perplexity may be at most this times the base's.
        max_style_delta_ratio: The twin's ``style_delta`` may be at most this times the base's.
        min_judge_accuracy: Lowest acceptable mean judge accuracy (1-3) of the twin.
        min_judge_style: Lowest acceptable mean judge style score (1-3) of the twin.
        min_win_rate: Lowest acceptable share of pairwise comparisons the twin wins against the
            base (0-1; ties count as not won).
        production: The tolerances against the production version (see
            :class:`ProductionTolerances`).
    """

    model_config = ConfigDict(extra="forbid")

    max_heldout_perplexity_ratio: float = Field(default=1.0, gt=0)
    max_perplexity_ratio: float = Field(default=1.0, gt=0)
    max_style_delta_ratio: float = Field(default=1.0, gt=0)
    min_judge_accuracy: float = Field(default=1.5, ge=1, le=3)
    min_judge_style: float = Field(default=1.5, ge=1, le=3)
    min_win_rate: float = Field(default=0.0, ge=0, le=1)
    production: ProductionTolerances = Field(default_factory=ProductionTolerances)


class EvaluationConfig(BaseModel):
    """What to evaluate and how.

    Attributes:
        model_name: Registered model name.
        model_version: ``latest`` (newest registered), ``production``, ``staging`` or a number.
        max_samples: Test rows evaluated (a seeded sample of the test split when it has more).
        seed: Seed of that sample.
        max_new_tokens: Most tokens per generated answer (greedy decoding).
        batch_size: Prompts generated (transformers) and scored for perplexity together.
        ct2_batch_size: Prompts CTranslate2 decodes together. 1 by default: on a 2-core CPU
            ten prompts one at a time took 22.8 s, together 44.2 s (and 4 at a time 43.6 s):
            a batch decodes at the pace of its longest (grounded) prompt.
        repetition_penalty: Generation's repetition penalty (1: none; 1.1 is the inference
            service's default ``LLM_REPETITION_PENALTY``).
        max_length: Most tokens of prompt + answer scored for perplexity (longer rows are cut).
        heldout_documents: Also score the perplexity of the held-out documents' plain text (the
            documents of the instruct test split, read from the feature store).
        heldout_max_tokens: Most tokens of held-out documents scored per model (0: all). When
            the documents hold more, each document contributes an equal share (its opening).
        heldout_window: Tokens per scored window of a held-out document (the model's context
            for it; every token is scored once).
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
    ct2_batch_size: int = Field(default=1, ge=1)
    repetition_penalty: float = Field(default=1.1, ge=1, le=2)
    max_length: int = Field(default=512, ge=16)
    heldout_documents: bool = True
    heldout_max_tokens: int = Field(default=4096, ge=0)
    heldout_window: int = Field(default=512, ge=16)
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
        # model_version only selects: the version it resolved to is among ``inputs``.
        ignored = {"promote_to", "thresholds", "tracking", "force", "samples_in_report", "threads"}
        ignored |= {"model_version"}
        payload = {k: v for k, v in self.model_dump(mode="json").items() if k not in ignored}
        return digest({"config": payload, "inputs": inputs})

    def comparability(self, **inputs: object) -> dict[str, str]:
        """Per gated metric, a hash of what makes its values comparable between two versions
        (the settings and data that measure it, not the version): two versions' values of a
        metric may be compared when these agree.

        Args:
            inputs: ``base_model`` (the tokenizer), ``dataset_version`` (test rows),
                ``heldout`` (a digest of the scored held-out texts) and ``generation`` (the
                engine and batch size that decoded the answers: greedy int8 answers decoded in
                a padded batch differ from one-at-a-time ones, and so does their style).
        """
        answers = {
            "dataset_version": inputs.get("dataset_version"),
            "max_samples": self.max_samples,
            "seed": self.seed,
            "base_model": inputs.get("base_model"),
        }
        return {
            "heldout_perplexity": digest(
                {
                    "heldout": inputs.get("heldout"),
                    "window": self.heldout_window,
                    "base_model": inputs.get("base_model"),
                }
            ),
            "perplexity": digest(answers | {"max_length": self.max_length}),
            "style_delta": digest(
                answers
                | {
                    "max_new_tokens": self.max_new_tokens,
                    "repetition_penalty": self.repetition_penalty,
                    "style_words": self.style_words,
                    "generation": inputs.get("generation"),
                }
            ),
        }


def digest(value: object) -> str:
    """A short, stable hash of plain data (16 hex digits)."""
    text = json.dumps(value, sort_keys=True, default=str)
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
