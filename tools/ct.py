"""Continuous training: when enough of the warehouse changed since the last training, run the
stages of ``configs/continuous_training.yaml`` (features → datasets → training → evaluation and
its promotion gate) and record what was trained on.

    python -m tools.ct [--config FILE] [--dry-run] [--force]

stdout gets one JSON object: ``decision`` (``train`` or ``skip``), ``reason``, ``changes``
(new/changed/deleted documents), and the stages' summaries when they ran. The snapshot of what
was trained on is saved (``DATA_DIR/ct/state.json``) only after every stage succeeded, so a
failed run is retried next time. Exit codes: 0 trained or skipped, 1 a stage failed, 2 bad input.
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tools.stages import pipeline_arguments, run_stage

app = typer.Typer(add_completion=False)

DEFAULT_CONFIG = Path("configs/continuous_training.yaml")


def load_config(path: Path) -> tuple[Any, list[tuple[str, list[str]]]]:
    """(threshold, [(stage name, interpreter arguments)]) from a CT config file.

    Raises:
        InvalidInput: missing file, bad YAML, unknown keys, unknown pipeline.
    """
    from llm_twin.application.change_detection import Threshold
    from llm_twin.domain.exceptions import InvalidInput
    from llm_twin.settings import PROJECT_ROOT
    from pipelines import PIPELINES
    from pipelines.configs import read_yaml_mapping

    document = read_yaml_mapping(PROJECT_ROOT / path, f"CT config {path}")
    unknown = set(document) - {"threshold", "stages"}
    if unknown:
        raise InvalidInput(f"CT config {path}: unknown key(s) {sorted(unknown)}")
    try:
        threshold = Threshold(**(document.get("threshold") or {}))
    except TypeError as error:
        raise InvalidInput(f"CT config {path}: threshold: {error}") from None
    stages = []
    for number, stage in enumerate(document.get("stages") or [], start=1):
        if not isinstance(stage, dict) or stage.get("pipeline") not in PIPELINES:
            raise InvalidInput(
                f"CT config {path}: stage {number} needs `pipeline:` one of {sorted(PIPELINES)}"
            )
        extra = set(stage) - {"pipeline", "config", "set"}
        if extra:
            raise InvalidInput(f"CT config {path}: stage {number}: unknown key(s) {sorted(extra)}")
        name = stage["pipeline"]
        stages.append(
            (name, pipeline_arguments(name, stage.get("config"), **(stage.get("set") or {})))
        )
    if not stages:
        raise InvalidInput(f"CT config {path} lists no stages")
    return threshold, stages


def _error(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)


@app.command()
def main(
    config: Annotated[Path, typer.Option("--config", "-c", help="CT config")] = DEFAULT_CONFIG,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report the changes and the decision only")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Train whatever changed")] = False,
) -> None:
    """Train again if the warehouse changed enough since the last training."""
    from llm_twin.application.change_detection import compare, load_state, save_state, take_snapshot
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults, get_settings

    apply_offline_defaults()
    configure_logging()
    settings = get_settings()
    try:
        threshold, stages = load_config(config)
        state = load_state(settings.storage.data_dir)
        with open_warehouse(settings) as warehouse:
            snapshot = take_snapshot(warehouse)
    except LLMTwinError as error:
        _error(str(error))
        raise typer.Exit(2) from None
    changes = compare(state["snapshot"] if state else None, snapshot)
    train, reason = threshold.decide(changes)
    if force and not train:
        train, reason = True, f"--force ({reason})"
    if state is None:
        reason += " (no earlier training recorded: every document counts as new)"
    result: dict[str, Any] = {
        "decision": "train" if train and not dry_run else "skip",
        "reason": reason + (" [dry run]" if dry_run and train else ""),
        "changes": changes.to_json(),
        "last_training": state.get("finished_at") if state else None,
    }
    print(f"==> {result['decision']}: {result['reason']}", file=sys.stderr, flush=True)
    if result["decision"] == "skip":
        print(json.dumps(result))
        return
    summaries: dict[str, Any] = {}
    try:
        for name, arguments in stages:
            summaries[name] = run_stage(name, arguments)
    except RuntimeError as error:
        _error(str(error))
        result["stages"] = summaries
        result["failed"] = True
        print(json.dumps(result))
        raise typer.Exit(1) from None
    model_version = summaries.get("training", {}).get("counts", {}).get("model_version")
    result["stages"] = {
        name: {key: summary[key] for key in ("status", "counts", "metrics") if key in summary}
        for name, summary in summaries.items()
    }
    result["timings_s"] = {name: summary["wall_s"] for name, summary in summaries.items()}
    result["state"] = str(
        save_state(settings.storage.data_dir, snapshot, model_version=model_version)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    app()
