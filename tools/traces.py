"""Query the inference service's request traces (``TRACES_DIR``, default DATA_DIR/traces).

    python -m tools.traces last [-n 20]
    python -m tools.traces slow [--min-ms 2000] [-n 20]
    python -m tools.traces errors [-n 20]
    python -m tools.traces show TRACE_ID
    python -m tools.traces preference-pairs

Summaries print one JSON object per line on stdout (newest first); ``show`` prints the whole
trace (prompt, sources, answer, feedback). Reading works while the service runs.
"""

import json
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True)

Count = Annotated[int, typer.Option("-n", "--count", min=1, help="How many traces")]


def _store() -> Any:
    from llm_twin.application.inference.traces import TraceStore
    from llm_twin.settings import get_settings

    return TraceStore(get_settings().traces_dir)


def _summary(trace: dict[str, Any]) -> dict[str, Any]:
    answer = trace.get("answer") or ""
    return {
        "trace_id": trace.get("trace_id"),
        "timestamp": trace.get("timestamp"),
        "endpoint": trace.get("endpoint"),
        "query": trace.get("query"),
        "answer": answer[:120] + ("…" if len(answer) > 120 else ""),
        "sources": [source.get("link") for source in trace.get("sources") or []],
        "latency_ms": trace.get("latency_ms"),
        "usage": trace.get("usage"),
        "model": trace.get("model"),
        "cached": trace.get("cached", False),
        "injection_flags": trace.get("injection_flags") or [],
        "error": trace.get("error"),
        "feedback": [record.get("rating") for record in trace.get("feedback") or []],
    }


def _print(traces: list[dict[str, Any]]) -> None:
    for trace in traces:
        typer.echo(json.dumps(_summary(trace), ensure_ascii=False))


@app.command()
def last(count: Count = 20) -> None:
    """The newest traces."""
    _print(_store().query(last=count))


@app.command()
def slow(
    count: Count = 20,
    min_ms: Annotated[float, typer.Option(help="Minimum total latency, ms")] = 2000.0,
) -> None:
    """The newest traces that took at least --min-ms."""
    _print(_store().query(last=count, min_latency_ms=min_ms))


@app.command()
def errors(count: Count = 20) -> None:
    """The newest traces that recorded an error."""
    _print(_store().query(last=count, errors_only=True))


@app.command()
def show(trace_id: str) -> None:
    """One whole trace, with its feedback."""
    trace = _store().get(trace_id)
    if trace is None:
        typer.echo(f"error: no trace with id {trace_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(trace, ensure_ascii=False, indent=2))


@app.command("preference-pairs")
def preference_pairs() -> None:
    """Corrections from feedback as preference pairs (prompt, chosen, rejected), JSON lines."""
    for pair in _store().preference_pairs():
        typer.echo(json.dumps(pair, ensure_ascii=False))


if __name__ == "__main__":
    app()
