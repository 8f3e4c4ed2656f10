"""Query the RAG retrieval module from the command line.

    python -m tools.rag --query "How does abliteration work?" [--k 5] [--author "Maxime"] [--json]
    python -m tools.rag --batch questions.jsonl
    python -m tools.rag --evaluate [--questions bench/rag_dev_questions.jsonl] [--answers 3]

With ``--json`` stdout carries exactly one JSON object per question and nothing else (logs go to
stderr): ``{"query", "latency_ms", "results": [{"link", "title", "author", "score", "text"}]}``
where ``latency_ms`` is the time of the ``search()`` call alone. ``--batch`` reads one object
per line (``{"question": ..., "author": optional}``), loads the models and stores once, and
prints one such object per line. This shape is read by external evaluations: keep it stable.

``--evaluate`` runs the RAG evaluation instead (recall@k / MRR on labelled questions,
faithfulness and relevance of a few answers; see ``RagEvaluationConfig``) and prints its
result as one JSON object. ``--eval-config`` reads the config from a YAML/JSON file (a plain
mapping, or one under ``parameters``); ``--questions`` and ``--answers`` override its
``questions_file`` and ``n_generation``.
"""

import gc
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tools.run import stdout_to_stderr

app = typer.Typer(add_completion=False)


def read_batch(path: Path) -> list[dict[str, Any]]:
    """The questions of a JSONL batch file, validated before anything is loaded.

    Raises:
        InvalidInput: unreadable file, or a line that is not an object with a non-empty
            ``question`` (the message names the line).
    """
    from llm_twin.domain.exceptions import InvalidInput

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InvalidInput(f"cannot read batch file {path}: {error.strerror}") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"{path}:{number}: invalid JSON ({error.msg})") from None
        question = item.get("question") if isinstance(item, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise InvalidInput(f'{path}:{number}: expected {{"question": "...", "author": ...}}')
        author = item.get("author")
        if author is not None and not isinstance(author, str):
            raise InvalidInput(f"{path}:{number}: author must be a string or null")
        items.append({"question": question, "author": author})
    return items


def answer(retriever: Any, query: str, k: int | None, author: str | None) -> dict[str, Any]:
    """The CLI's JSON object for one question."""
    started = time.perf_counter()
    chunks = retriever.search(query, k=k, author=author)
    latency_ms = (time.perf_counter() - started) * 1000
    return {
        "query": query,
        "latency_ms": round(latency_ms, 2),
        "results": [
            {
                "link": chunk.link,
                "title": chunk.title,
                "author": chunk.author,
                "score": round(chunk.score, 6),
                "text": chunk.content,
            }
            for chunk in chunks
        ],
    }


def render(result: dict[str, Any]) -> str:
    """Human-readable ranked chunks."""
    lines = [f"{result['query']}  ({result['latency_ms']:.1f} ms)"]
    if not result["results"]:
        lines.append("  no results (is the corpus indexed? run the feature pipeline)")
    for rank, hit in enumerate(result["results"], start=1):
        text = " ".join(hit["text"].split())
        lines.append(
            f"{rank}. [{hit['score']:.4f}] {hit['title'] or '(untitled)'} — {hit['author']}"
        )
        lines.append(f"   {hit['link']}")
        lines.append(f"   {text[:300]}{'…' if len(text) > 300 else ''}")
    return "\n".join(lines)


def evaluation_config(
    path: Path | None, questions: Path | None, answers: int | None, k: int | None
) -> dict[str, Any]:
    """The RAG evaluation config from ``path`` (if any) with the command-line overrides.

    Raises:
        InvalidInput: the file is unreadable or not a mapping.
    """
    import yaml

    from llm_twin.domain.exceptions import InvalidInput

    values: Any = {}
    if path is not None:
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise InvalidInput(f"cannot read evaluation config {path}: {error}") from None
        if isinstance(values, dict) and isinstance(values.get("parameters"), dict):
            values = values["parameters"]
        if not isinstance(values, dict):
            raise InvalidInput(f"evaluation config {path} is not a mapping")
    overrides = {"questions_file": str(questions) if questions else None}
    overrides |= {"n_generation": answers, "k": k}
    return {**values, **{name: v for name, v in overrides.items() if v is not None}}


@app.command()
def main(
    query: Annotated[str | None, typer.Option("--query", "-q", help="The question")] = None,
    k: Annotated[
        int | None, typer.Option("--k", min=1, help="Chunks to return (RAG_TOP_K)")
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", help="Only this author (partial names accepted)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per question")] = False,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="JSONL file of {question, author} objects")
    ] = None,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Run the RAG evaluation; print its JSON result")
    ] = False,
    eval_config: Annotated[
        Path | None, typer.Option("--eval-config", help="RAG evaluation config (YAML/JSON)")
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option("--questions", help="Evaluation: JSONL of {question, links} objects"),
    ] = None,
    answers: Annotated[
        int | None, typer.Option("--answers", min=0, help="Evaluation: answers to generate")
    ] = None,
) -> None:
    """Retrieve the passages that answer a question (or every question of a batch file)."""
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults

    if evaluate:
        if query is not None or batch is not None:
            raise typer.BadParameter("--evaluate takes no --query or --batch")
    elif (query is None) == (batch is None):
        raise typer.BadParameter("give exactly one of --query or --batch")
    apply_offline_defaults()
    configure_logging()
    with stdout_to_stderr() as stdout:
        try:
            if evaluate:
                from llm_twin.application.rag.evaluation.run import evaluate_rag
                from llm_twin.settings import get_settings

                config = evaluation_config(eval_config, questions, answers, k)
                print(json.dumps(evaluate_rag(get_settings(), config)), file=stdout, flush=True)
                return
            items = (
                read_batch(batch) if batch is not None else [{"question": query, "author": author}]
            )
            from llm_twin.application.rag import ContextRetriever

            with ContextRetriever.from_settings() as retriever:
                # Start-up's objects out of the collector's sight: a full collection scanning
                # them stalled one search of each batch for ~250 ms.
                gc.collect()
                gc.freeze()
                for item in items:
                    result = answer(retriever, item["question"], k, item["author"] or author)
                    text = json.dumps(result) if as_json or batch is not None else render(result)
                    print(text, file=stdout, flush=True)
        except LLMTwinError as error:
            typer.secho(f"error: {error}", fg="red", err=True)
            raise typer.Exit(2) from None


if __name__ == "__main__":
    app()
