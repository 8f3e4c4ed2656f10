"""Registry step: store the trained twin as a new version (local registry + ZenML Model Control
Plane), give it the configured stage, push it to the Hub when configured."""

import shutil
from pathlib import Path
from typing import Annotated, Any

from zenml import step

from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.model.registry import ModelRegistry, push_to_hub, registry_root
from llm_twin.settings import get_settings
from steps.metadata import record_counts

#: How far along a stage is; a reused version is never moved back (production → staging).
_STAGE_RANK = {"none": 0, "archived": 0, "staging": 1, "production": 2}


def _should_promote(current: str, target: str, *, reused: bool) -> bool:
    """Apply ``promote_to``? Always to a new version; to a reused one only forward, so
    re-running training on unchanged data never demotes the version the evaluation promoted."""
    if target == "none" or current == target:
        return False
    return not reused or _STAGE_RANK[target] > _STAGE_RANK[current]


@step(enable_cache=False)
def register_twin(
    training_run: dict[str, Any], config: TrainingConfig
) -> Annotated[dict[str, Any], "model_version"]:
    """Register ``training_run`` (or take the reused version) and apply ``promote_to``.

    Args:
        training_run: Output of ``train_twin``.
        config: The run's training config.
    """
    from llm_twin.model.finetuning.run import TrainingOutcome

    settings = get_settings()
    registry = ModelRegistry(registry_root(settings), config.model_name)
    reused = training_run.get("reused_version")
    if reused is not None:
        version = registry.get(int(reused))
    else:
        outcome = TrainingOutcome.from_dict(
            {k: v for k, v in training_run.items() if k != "reused_version"}
        )
        version = registry.register(outcome, config)
        # The pt and SFT models merged for the next stage are full copies of the weights: not
        # needed any more (a forced re-run merges them again from the adapters).
        for stage in ("pt", "sft"):
            if stage in outcome.adapters:
                shutil.rmtree(Path(outcome.adapters[stage]).parent / "merged", ignore_errors=True)
    if _should_promote(version.stage, config.promote_to, reused=reused is not None):
        version = registry.promote(version.version, config.promote_to)
    pushed = 0
    if config.push_to_hub and reused is None:
        push_to_hub(version, config.push_to_hub, settings)
        pushed = 1
    record_counts(
        {"model_name": version.name, "stage": version.stage, "path": str(version.model_dir)},
        model_version=version.version,
        models_registered=int(reused is None),
        pushed_to_hub=pushed,
    )
    return version.to_json()
