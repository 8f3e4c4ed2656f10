"""Run a ZenML pipeline by name with a YAML config; print one JSON summary line on stdout.

    python -m tools.run digital_data_etl --config configs/digital_data_etl_maxime_labonne.yaml
    python -m tools.run end_to_end_data --config configs/end_to_end_data.yaml --set import_dir=DIR

Everything the pipeline logs goes to stderr; stdout carries exactly one line:
``{"pipeline", "run_id", "status", "duration_s", "counts"}``, plus ``"metrics"`` when a step
recorded ``summary_metrics`` metadata (e.g. the evaluation pipeline's per-model metrics).
"""

import contextlib
import importlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines import PIPELINES

app = typer.Typer(add_completion=False, no_args_is_help=True)


def load_pipeline(name: str) -> Any:
    """Import the pipeline registered as ``name``."""
    module_name, function_name = PIPELINES[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


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


def summarize(pipeline_name: str, run: Any, duration_s: float) -> dict[str, Any]:
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


#: A qualified exception name at the start of a traceback's last line.
DOTTED_NAME = re.compile(r"^(?:\w+\.)+(\w+:)")


def failure_reason(name: str, error: Exception) -> str | None:
    """The one-line reason a pipeline run failed, when it is a known failure: the project's own
    error, or the errors of the failed steps (ZenML only says "failure in step(s): ..."; the
    steps' exceptions are in the run's records). ``None`` for anything else (a bug: the caller
    shows its traceback)."""
    from llm_twin.domain.exceptions import LLMTwinError

    if isinstance(error, LLMTwinError):
        return f"{type(error).__name__}: {error}"
    if "failure in step(s)" not in str(error):
        return None
    from zenml.client import Client

    reasons = []
    try:
        run = Client().get_pipeline(name).last_run
        for step_name, step in run.steps.items():
            info = step.exception_info
            if str(getattr(step.status, "value", step.status)) == "failed" and info is not None:
                last = info.traceback.strip().splitlines()[-1]
                # "llm_twin.domain.exceptions.StoreLocked: ..." -> "StoreLocked: ..."
                reasons.append(step_name + ": " + DOTTED_NAME.sub(r"\1", last))
    except Exception as lookup_error:  # the reason is a nicety; the run's own error is kept
        return f"{error} (step errors unavailable: {type(lookup_error).__name__})"
    return "; ".join(reasons) or str(error)


def parse_overrides(pipeline: Any, assignments: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` as parameters of ``pipeline`` (values read as YAML, so
    ``n=3``, ``flag=true``, ``names=[a, b]`` work; ``key=`` is the empty string).

    Raises:
        InvalidInput: an assignment without ``=``, or a key the pipeline does not take.
    """
    import inspect

    import yaml

    from llm_twin.domain.exceptions import InvalidInput

    known = inspect.signature(pipeline.entrypoint).parameters
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


def merged_config(config: Path | None, overrides: dict[str, Any], folder: Path) -> Path | None:
    """``config`` with ``overrides`` applied to its ``parameters`` (a new file in ``folder``)."""
    if not overrides:
        return config
    import yaml

    document = yaml.safe_load(config.read_text()) if config is not None else {}
    document = document or {}
    document["parameters"] = {**(document.get("parameters") or {}), **overrides}
    merged = folder / (config.name if config is not None else "parameters.yaml")
    merged.write_text(yaml.safe_dump(document, sort_keys=False))
    return merged


def run_pipeline(
    name: str, config: Path | None, no_cache: bool, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run pipeline ``name`` with ``config`` (``overrides`` replace some of its parameters, see
    :func:`parse_overrides`); return its summary."""
    import tempfile

    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    configure_logging()
    pipeline = load_pipeline(name)
    options: dict[str, Any] = {"enable_cache": not no_cache}
    with tempfile.TemporaryDirectory(prefix="llm-twin-run-") as folder:
        config = merged_config(config, overrides or {}, Path(folder))
        if config is not None:
            options["config_path"] = str(config)
        started = time.perf_counter()
        run = pipeline.with_options(**options)()
    return summarize(name, run, time.perf_counter() - started)


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
    with stdout_to_stderr() as stdout:
        try:
            summary = run_pipeline(pipeline, config, no_cache, parameters)
        except Exception as error:
            reason = failure_reason(pipeline, error)
            summary = {
                "pipeline": pipeline,
                "run_id": None,
                "status": "failed",
                "duration_s": None,
                "counts": {},
                "error": reason or f"{type(error).__name__}: {error}",
            }
            print(json.dumps(summary), file=stdout, flush=True)
            if reason is None:
                raise
            typer.secho(f"error: {reason}", fg="red", err=True)
            raise typer.Exit(1) from None
        print(json.dumps(summary), file=stdout, flush=True)
    if summary["status"] != "completed":
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
