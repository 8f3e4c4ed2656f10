"""CPU or GPU: which device, precision, quantization and trainer switches a run uses.

TRL/transformers defaults assume a GPU (bf16 on, for instance, raises on CPU); the plan made here
turns them off on CPU and on for GPUs, so one config file works on both.
"""

import dataclasses
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.model.finetuning.config import TrainingConfig

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel


@dataclasses.dataclass(frozen=True)
class HardwarePlan:
    """The resolved hardware choices of one run.

    Attributes:
        device: ``cpu`` or ``cuda``.
        precision: ``bf16``, ``fp16`` or ``fp32`` (the compute dtype).
        quantize_4bit: Load the base model in NF4 (QLoRA).
        gradient_checkpointing: Recompute activations in the backward pass (saves GPU memory).
        device_name: Human-readable device (GPU model or ``cpu``).
    """

    device: str
    precision: str
    quantize_4bit: bool
    gradient_checkpointing: bool
    device_name: str

    @property
    def torch_dtype(self) -> "torch.dtype":
        """The torch dtype of the weights and computation."""
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[
            self.precision
        ]

    @property
    def described(self) -> tuple[str, str]:
        """``(device name, precision)`` for the logs."""
        return self.device_name, self.precision

    def trainer_arguments(self, seed: int) -> dict[str, Any]:
        """Arguments every stage's TRL config gets (device, precision, seeds, I/O).

        Args:
            seed: Seed of the model init and the data order.
        """
        return {
            "use_cpu": self.device == "cpu",
            "bf16": self.precision == "bf16",
            "fp16": self.precision == "fp16",
            "gradient_checkpointing": self.gradient_checkpointing,
            "seed": seed,
            "data_seed": seed,
            # Tracking is done by our own callback (one Comet experiment for every stage).
            "report_to": "none",
            "save_strategy": "steps",
            "save_total_limit": 2,
            "eval_strategy": "no",
            "dataloader_num_workers": 0,
            "dataloader_pin_memory": self.device == "cuda",
            "disable_tqdm": True,
            "logging_first_step": True,
        }


def plan_hardware(config: TrainingConfig) -> HardwarePlan:
    """Resolve ``auto`` choices against the machine.

    Raises:
        ImproperlyConfigured: CUDA asked for but absent; 4-bit asked for without bitsandbytes.
    """
    import torch

    has_cuda = torch.cuda.is_available()
    if config.device == "cuda" and not has_cuda:
        raise ImproperlyConfigured(
            "training config asks for device 'cuda' but no CUDA GPU is visible"
        )
    device = "cuda" if config.device == "cuda" or (config.device == "auto" and has_cuda) else "cpu"
    if config.quantization == "4bit" and device != "cuda":
        raise ImproperlyConfigured("quantization '4bit' (QLoRA) needs a CUDA GPU; none is visible")
    if config.quantization == "4bit":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise ImproperlyConfigured(
                "quantization '4bit' needs bitsandbytes: pip install 'llm-twin[gpu]'"
            ) from None
    precision = config.precision
    if precision == "auto":
        if device == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "fp32"
    checkpointing = config.gradient_checkpointing
    if checkpointing == "auto":
        checkpointing = device == "cuda"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    return HardwarePlan(device, precision, config.quantization == "4bit", bool(checkpointing), name)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) for a reproducible run."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def load_model(
    path: Path | str, plan: HardwarePlan, *, quantize: bool | None = None
) -> "PreTrainedModel":
    """Load a causal LM for training on the planned device.

    Args:
        path: Hugging Face id or local folder.
        plan: The hardware plan.
        quantize: Load in 4-bit (default: the plan's choice). Merging always loads unquantized.
    """
    from transformers import AutoModelForCausalLM

    quantize = plan.quantize_4bit if quantize is None else quantize
    kwargs: dict[str, Any] = {"dtype": plan.torch_dtype}
    if quantize:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=plan.torch_dtype,
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    if not quantize:
        model.to(plan.device)
    # The KV cache is useless in training and conflicts with gradient checkpointing.
    model.config.use_cache = False
    return model


def peak_memory_mb(device: str) -> float:
    """Peak memory of this process so far: GPU allocations on CUDA, else the RSS high-water mark."""
    if device == "cuda":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
