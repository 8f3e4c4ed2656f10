"""Article extraction on the fixture pages, and the ``extract-article`` CLI built on it."""

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from llm_twin.application.crawlers.extraction import extract_article

ROOT = Path(__file__).resolve().parents[3]
SITES = ROOT / "tests" / "fixtures" / "sites"
MANIFEST = json.loads((SITES / "expected" / "manifest.json").read_text())
STATIC_PAGES = [page for page, item in MANIFEST.items() if not item["browser"]]
#: Text around the bodies that must never be extracted (navigation, subscribe boxes, comments,
#: footers, sidebars, cookie banners, share widgets, related posts).
BOILERPLATE = [
    "Subscribe",
    "Sign in",
    "Thanks for reading",
    "comments",
    "Great write-up",
    "Reciprocal rank fusion really is magic",
    "Substack is the home",
    "Privacy",
    "Related posts",
    "Quantization basics for people in a hurry",
    "Do you use gradient checkpointing",
    "Newsletter",
    "cookies",
    "Built with Hugo",
    "Share this",
    "Printed this and put it on the wall",
    "Leave a Reply",
    "Proudly powered by WordPress",
    "Recent Posts",
    "Previous post",
    "Join the waitlist",
    "On this page",
    "Enjoying this post",
    "More about me",
    "Keep reading",
    "self-retrieval trick is so simple",
    "Made with Eleventy",
]


def token_f1(predicted: str, expected: str) -> float:
    pred = Counter(re.findall(r"\w+", predicted.lower()))
    gold = Counter(re.findall(r"\w+", expected.lower()))
    overlap = sum((pred & gold).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(gold.values())
    return 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("page", STATIC_PAGES)
def test_body_is_extracted_without_boilerplate(page: str) -> None:
    expected = (SITES / "expected" / MANIFEST[page]["expected"]).read_text()
    article = extract_article((SITES / page).read_bytes(), url=f"https://example.com/{page}")
    assert article is not None
    assert article.title == MANIFEST[page]["title"]
    assert token_f1(article.text, expected) >= 0.95
    for phrase in BOILERPLATE:
        assert phrase not in article.text, f"boilerplate {phrase!r} leaked into {page}"
    # The last paragraph is there too: the body was not cut short.
    last_words = expected.strip().splitlines()[-1].split()[-6:]
    assert " ".join(last_words).strip("`|") in article.text


def test_markdown_structure_and_symbols_are_kept() -> None:
    substack = extract_article((SITES / STATIC_PAGES[0]).read_bytes())
    assert substack is not None
    text = substack.text
    assert "## Pick a small embedding model and keep it" in text
    assert "- split the document on headings into sections;" in text
    assert "```" in text and "        if chunk and size + tokens > limit:" in text
    assert 'yield "\\n\\n".join(chunk)' in text
    blog = extract_article((SITES / "blog/2024/05/notes-on-lora-fine-tuning.html").read_bytes())
    assert blog is not None
    assert "1. Deduplicate the training set before anything else." in blog.text
    assert "`merge_and_unload()`" in blog.text
    assert 'target_modules=["q_proj", "k_proj"' in blog.text
    notes = extract_article((SITES / "notes/quantization-cheatsheet.html").read_bytes())
    assert notes is not None
    assert "| Q4_K_M (GGUF) | 4 to 5 | llama.cpp on laptops |" in notes.text


def test_metadata() -> None:
    article = extract_article((SITES / STATIC_PAGES[0]).read_bytes())
    assert article is not None
    assert article.subtitle == (
        "What actually matters when your retrieval pipeline has to fit in 8 GB of RAM."
    )
    assert article.author == "Jane Doe"
    assert article.published == "2024-03-14"
    # The title is a separate field, not repeated as the body's first heading.
    assert not article.text.startswith("#")


def test_page_without_article_text_gives_none() -> None:
    assert extract_article("<html><body><nav><a href='/'>Home</a></nav></body></html>") is None


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.extract_article", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_cli_single_file_prints_exactly_the_crawler_extraction(tmp_path: Path) -> None:
    page = SITES / "blog/2024/05/notes-on-lora-fine-tuning.html"
    url = "https://janedoe.dev/2024/05/notes-on-lora-fine-tuning/"
    result = run_cli("--html", str(page), "--url", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"title", "text"}
    article = extract_article(page.read_bytes(), url=url)
    assert article is not None
    assert printed == {"title": article.title, "text": article.text}


def test_cli_batch_reads_html_and_gzipped_html(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for page in STATIC_PAGES[:2]:
        (folder / Path(page).name).write_bytes((SITES / page).read_bytes())
    gz_source = SITES / STATIC_PAGES[2]
    (folder / "cheatsheet.html.gz").write_bytes(gzip.compress(gz_source.read_bytes()))
    (folder / "notes.txt").write_text("not html")
    (folder / "empty.html").write_text("<html><body><nav>Home</nav></body></html>")
    out = tmp_path / "out" / "extracted.jsonl"
    result = run_cli("--batch", str(folder), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["file"] for line in lines] == [
        "cheatsheet.html.gz",
        "empty.html",
        "notes-on-lora-fine-tuning.html",
        "scaling-rag-on-a-laptop.html",
    ]
    assert all(set(line) == {"file", "title", "text"} for line in lines)
    by_file = {line["file"]: line for line in lines}
    assert by_file["empty.html"]["text"] == ""
    expected = extract_article(gz_source.read_bytes())
    assert expected is not None
    assert by_file["cheatsheet.html.gz"]["text"] == expected.text


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    assert run_cli(cwd=tmp_path).returncode != 0
    missing = run_cli("--html", str(tmp_path / "nope.html"), cwd=tmp_path)
    assert missing.returncode != 0
    assert "nope.html" in missing.stderr
