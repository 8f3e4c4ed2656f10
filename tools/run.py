"""Run a ZenML pipeline by name with a YAML config; print one JSON summary line on stdout.

    python -m tools.run digital_data_etl --config configs/digital_data_etl_maxime_labonne.yaml
    python -m tools.run end_to_end_data --config configs/end_to_end_data.yaml --set import_dir=DIR

Everything the pipeline logs goes to stderr; stdout carries exactly one line:
``{"pipeline", "run_id", "status", "duration_s", "counts"}``, plus ``"metrics"`` when a step
recorded ``summary_metrics`` metadata (e.g. the evaluation pipeline's per-model metrics).

The config file's ``parameters:`` (with the ``--set`` overrides) are validated once into the
pipeline's config model (``pipelines/configs.py``) before anything runs: a wrong key or value
prints a failed summary and one ``error:`` line naming it, and exits 1.
"""

import contextlib
import importlib
import inspect
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel

from pipelines import PIPELINES

if TYPE_CHECKING:
    from zenml.models import PipelineRunResponse
    from zenml.pipelines.pipeline_definition import Pipeline

app = typer.Typer(add_completion=False, no_args_is_help=True)


def load_pipeline(name: str) -> "Pipeline":
    """Import the pipeline registered as ``name``."""
    module_name, function_name = PIPELINES[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def config_model(pipeline: "Pipeline") -> type[BaseModel]:
    """The pydantic model of ``pipeline``'s one ``config`` argument."""
    return inspect.signature(pipeline.entrypoint).parameters["config"].annotation


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[Any]:
    """Send everything written to fd 1 (ZenML's console logs too) to stderr; yield a stream
    on the real stdout for the summary line."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real_stdout = os.fdopen(os.dup(saved), "w")
    try:
        yield real_stdout
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def summarize(pipeline_name: str, run: "PipelineRunResponse", duration_s: float) -> dict[str, Any]:
    """The run's summary: status, duration, the sum of every step's ``counts`` metadata and,
    when steps recorded some, their ``summary_metrics`` merged (top-level keys) as ``metrics``."""
    from zenml.client import Client

    run = Client().get_pipeline_run(run.id)
    counts: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    for step_run in run.steps.values():
        reported = step_run.run_metadata.get("summary_metrics")
        if isinstance(reported, dict):
            metrics.update(reported)
        for key, value in (step_run.run_metadata.get("counts") or {}).items():
            if isinstance(value, int | float) and isinstance(counts.get(key, 0), int | float):
                counts[key] = counts.get(key, 0) + value
            else:
                counts[key] = value
    summary = {
        "pipeline": pipeline_name,
        "run_id": str(run.id),
        "status": str(getattr(run.status, "value", run.status)),
        "duration_s": round(duration_s, 2),
        "counts": counts,
    }
    if metrics:
        summary["metrics"] = metrics
    return summary


def parse_overrides(pipeline: "Pipeline", assignments: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` as parameters of ``pipeline`` (values read as YAML, so
    ``n=3``, ``flag=true``, ``names=[a, b]`` work; ``key=`` is the empty string).

    Raises:
        InvalidInput: an assignment without ``=``, or a key the pipeline's config does not have.
    """
    import yaml

    from llm_twin.domain.exceptions import InvalidInput

    known = config_model(pipeline).model_fields
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator:
            raise InvalidInput(f"--set {assignment!r}: expected KEY=VALUE")
        if key not in known:
            raise InvalidInput(
                f"--set {key}: the pipeline has no such parameter (parameters: {', '.join(known)})"
            )
        overrides[key] = yaml.safe_load(value) if value else ""
    return overrides


def read_config_file(config: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the ``parameters`` block, the rest: ZenML's own settings) of the YAML file ``config``.

    Raises:
        InvalidConfig: the file is not YAML, or its ``parameters`` is not a mapping.
    """
    from pipelines.configs import InvalidConfig, read_yaml_mapping

    if config is None:
        return {}, {}
    document = dict(read_yaml_mapping(config, f"pipeline config {config}"))
    parameters = document.pop("parameters", None) or {}
    if not isinstance(parameters, dict):
        raise InvalidConfig(f"pipeline config {config}: 'parameters:' must be a mapping")
    return parameters, document


def load_config(
    pipeline: "Pipeline", config: Path | None, overrides: dict[str, Any] | None = None
) -> tuple[BaseModel, dict[str, Any]]:
    """Read ``config`` once: its ``parameters`` with ``overrides`` applied, validated into the
    pipeline's config model (the file itself is left alone), and the file's other keys.

    Raises:
        InvalidConfig: the file is unusable or a value is wrong (the message names the key).
    """
    from pipelines.configs import validate_config

    parameters, zenml_settings = read_config_file(config)
    merged = {**parameters, **(overrides or {})}
    return validate_config(config_model(pipeline), merged, pipeline.name), zenml_settings


def run_pipeline(
    name: str, config: Path | None, no_cache: bool, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run pipeline ``name`` with ``config`` (``overrides`` replace some of its parameters, see
    :func:`parse_overrides`); return its summary.

    Raises:
        InvalidConfig: the config is unusable or invalid (nothing ran).
    """
    import tempfile

    import yaml

    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    configure_logging()
    pipeline = load_pipeline(name)
    validated, zenml_settings = load_config(pipeline, config, overrides)
    options: dict[str, Any] = {"enable_cache": not no_cache}
    with tempfile.TemporaryDirectory(prefix="llm-twin-run-") as folder:
        if zenml_settings:  # the file's other keys (settings:, steps:...) are ZenML's
            path = Path(folder) / "zenml.yaml"
            path.write_text(yaml.safe_dump(zenml_settings, sort_keys=False))
            options["config_path"] = str(path)
        started = time.perf_counter()
        run = pipeline.with_options(**options)(config=validated)
    return summarize(name, run, time.perf_counter() - started)


def _failed_summary(pipeline: str, error: Exception) -> dict[str, Any]:
    return {
        "pipeline": pipeline,
        "run_id": None,
        "status": "failed",
        "duration_s": None,
        "counts": {},
        "error": f"{type(error).__name__}: {error}",
    }


def _usage_error(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


@app.command()
def main(
    pipeline: Annotated[str, typer.Argument(help="Pipeline name, e.g. digital_data_etl")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config from configs/")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Disable step caching")] = False,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a parameter of the config: KEY=VALUE (YAML value; repeatable)"
        ),
    ] = None,
) -> None:
    """Run PIPELINE and print its JSON summary line."""
    if pipeline not in PIPELINES:
        _usage_error(f"unknown pipeline {pipeline!r} (known: {', '.join(sorted(PIPELINES))})")
    if config is not None and not config.is_file():
        _usage_error(f"config file {config} does not exist")
    parameters: dict[str, Any] = {}
    if overrides:
        from llm_twin.domain.exceptions import InvalidInput

        try:
            parameters = parse_overrides(load_pipeline(pipeline), overrides)
        except InvalidInput as error:
            _usage_error(str(error))
    from pipelines.configs import InvalidConfig

    with stdout_to_stderr() as stdout:
        try:
            summary = run_pipeline(pipeline, config, no_cache, parameters)
        except InvalidConfig as error:
            print(json.dumps(_failed_summary(pipeline, error)), file=stdout, flush=True)
            typer.secho(f"error: {error}", fg="red", err=True)
            raise typer.Exit(1) from None
        except Exception as error:
            print(json.dumps(_failed_summary(pipeline, error)), file=stdout, flush=True)
            raise
        print(json.dumps(summary), file=stdout, flush=True)
    if summary["status"] != "completed":
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
