"""Extract the article from saved HTML, exactly as the custom-article crawler does.

    python -m tools.extract_article --html page.html [--url https://example.com/post]
        -> {"title": "...", "text": "..."}
    python -m tools.extract_article --batch pages/ --out extracted.jsonl
        -> one line per *.html / *.html.gz file: {"file": "...", "title": "...", "text": "..."}

(``poe extract-article …``). Use it to see what the crawler would store when a site's markup
changes. This interface is stable: external benchmarks call it.
"""

import gzip
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from llm_twin.application.crawlers.extraction import extract_article

app = typer.Typer(add_completion=False)


def read_html(path: Path) -> bytes:
    """The raw bytes of ``path``, gunzipped when it ends in ``.gz``."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as handle:
            return handle.read()
    return path.read_bytes()


def extract_file(path: Path, url: str | None = None) -> dict[str, str]:
    """``{"title", "text"}`` of one saved page (empty strings when nothing was found)."""
    article = extract_article(read_html(path), url=url)
    if article is None:
        return {"title": "", "text": ""}
    return {"title": article.title, "text": article.text}


def batch_files(folder: Path) -> list[Path]:
    """Every ``*.html`` and ``*.html.gz`` directly in ``folder``, sorted by name."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and (path.name.endswith(".html") or path.name.endswith(".html.gz"))
    )


@app.command()
def main(
    html: Annotated[Path | None, typer.Option("--html", help="One saved HTML file")] = None,
    url: Annotated[str | None, typer.Option("--url", help="The page's original URL")] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="Folder of *.html / *.html.gz files")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="JSONL output of --batch")] = None,
) -> None:
    """Print the extracted title and text of --html as JSON, or write --batch to --out."""
    if (html is None) == (batch is None):
        raise typer.BadParameter("give exactly one of --html FILE or --batch DIR")
    if html is not None:
        if not html.is_file():
            raise typer.BadParameter(f"{html} is not a file", param_hint="--html")
        result = extract_file(html, url)
        print(json.dumps(result, ensure_ascii=False))
        if not result["text"]:
            print(f"no article text found in {html}", file=sys.stderr)
            raise typer.Exit(1)
        return
    assert batch is not None
    if not batch.is_dir():
        raise typer.BadParameter(f"{batch} is not a folder", param_hint="--batch")
    if out is None:
        raise typer.BadParameter("--batch needs --out FILE.jsonl", param_hint="--out")
    files = batch_files(batch)
    empty = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for path in files:
            result = extract_file(path)
            empty += not result["text"]
            handle.write(json.dumps({"file": path.name, **result}, ensure_ascii=False) + "\n")
    print(f"extracted {len(files)} files into {out} ({empty} without text)", file=sys.stderr)


if __name__ == "__main__":
    app()
