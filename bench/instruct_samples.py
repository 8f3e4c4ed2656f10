"""Generate the instruct dataset in-process and show random samples of each instruction template.

    python -m bench.instruct_samples [--config configs/generate_instruct_datasets.yaml]
        [--per-template 20] [--seed 7] [--repeat] [--out samples.md]

Reads the cleaned documents from the feature store (run the feature pipeline first), runs what
the instruct pipeline's generation and split steps run (extracts, generator, filters, split,
grounding) with the config's parameters, and prints Markdown: counts per template (generated,
train, test), the content hash the dataset store would name the version by, the time taken,
and ``--per-template`` seeded random samples of every template (answers cut to 300
characters; grounded samples show their question and their context's sources). ``--repeat``
generates a second time with a fresh generator and reports whether the hash is the same (a
re-run must create no new dataset version).
"""

import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False)


def _generate(config: Any, documents: list[dict[str, Any]]) -> tuple[list, list, dict, float]:
    """(train, test, generated counts per template, seconds) for ``config``."""
    from llm_twin.application.dataset.assembly import assemble
    from llm_twin.application.dataset.filters import FilterConfig
    from llm_twin.application.dataset.generation import build_generator
    from llm_twin.application.dataset.instruct import instruct_rows
    from pipelines.configs import InstructGeneration
    from steps.generate_datasets.common import extracts_for, generator_options

    started = time.perf_counter()
    generation = config.part(InstructGeneration)
    extracts, _ = extracts_for(documents, generation)
    generator = build_generator(generation.generator, generator_options(generation))
    try:
        rows = instruct_rows(extracts, generator, generation.mode)
    finally:
        generator.close()
    generated = Counter(str(row.get("template")) for row in rows)
    generated["extracts"] = len(extracts)
    train, test, _ = assemble(
        rows,
        FilterConfig.from_dict(config.filters),
        config.test_size,
        config.seed,
        grounding=getattr(generator, "grounding", None),
    )
    return train, test, dict(generated), time.perf_counter() - started


def _hash(train: list, test: list) -> str:
    from llm_twin.application.dataset import store
    from llm_twin.application.dataset.assembly import to_dataset_dict

    return store.content_hash(to_dataset_dict(train, test, store.REQUIRED_COLUMNS["instruct"]))


def _cut(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def _sample_lines(row: dict[str, Any]) -> list[str]:
    """One sample as Markdown lines."""
    lines = [f"- **{row['title']}** ({row['link']}, extract {row['extract_index']})"]
    if row.get("template") == "grounded_qa":
        sources = str(row["context"]).split("\n\nSources:\n", 1)[-1].splitlines()
        lines.append(f"  - question: {row['question']}")
        lines.append(f"  - context: {len(str(row['context']))} chars, sources: {sources}")
    else:
        instruction = _cut(row["instruction"], 700).replace("\n", "\n    > ")
        lines.append(f"  - instruction:\n    > {instruction}")
    answer = _cut(row["answer"], 300).replace("\n", "\n    > ")
    lines.append(f"  - answer:\n    > {answer}")
    return lines


def _report(
    train: list, test: list, generated: dict, seconds: float, per_template: int, seed: int
) -> list[str]:
    rows = [*train, *test]
    in_train = Counter(str(r.get("template")) for r in train)
    in_test = Counter(str(r.get("template")) for r in test)
    lines = [
        f"extracts: {generated.get('extracts')}, train: {len(train)}, test: {len(test)}, "
        f"documents: train {len({r['document_id'] for r in train})}, "
        f"test {len({r['document_id'] for r in test})}; {seconds:.1f} s",
        "",
        "| template | generated | train | test | median instruction chars | median answer chars |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for template in sorted(set(in_train) | set(in_test) | (set(generated) - {"extracts"})):
        kept = [r for r in rows if r.get("template") == template]
        instruction = statistics.median(len(str(r["instruction"])) for r in kept) if kept else 0
        answer = statistics.median(len(str(r["answer"])) for r in kept) if kept else 0
        lines.append(
            f"| {template} | {generated.get(template, 0)} | {in_train[template]} | "
            f"{in_test[template]} | {instruction:.0f} | {answer:.0f} |"
        )
    rng = random.Random(seed)
    for template in sorted(set(in_train) | set(in_test)):
        chosen = [r for r in rows if r.get("template") == template]
        shown = rng.sample(chosen, min(per_template, len(chosen)))
        lines += ["", f"## {template}: {len(shown)} of {len(chosen)}", ""]
        for row in shown:
            lines += _sample_lines(row)
    return lines


@app.command()
def main(
    config_path: Annotated[Path, typer.Option("--config", help="Instruct dataset config")] = Path(
        "configs/generate_instruct_datasets.yaml"
    ),
    per_template: Annotated[int, typer.Option(help="Samples shown per template")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the shown samples")] = 7,
    repeat: Annotated[bool, typer.Option(help="Generate twice and compare hashes")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the Markdown here")] = None,
) -> None:
    """Print counts per template and random samples of each."""
    import torch

    from llm_twin.application.dataset.sources import read_cleaned_documents
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults, get_settings
    from pipelines.configs import GenerateInstructDatasetsConfig, config_from_file

    apply_offline_defaults()
    configure_logging("WARNING")
    torch.set_num_threads(2)
    config = config_from_file(GenerateInstructDatasetsConfig, str(config_path))
    with open_vector_store(get_settings()) as store:
        found = read_cleaned_documents(store, config.author_full_names, config.categories)
    documents = [document.to_dict() for document in found]
    train, test, generated, seconds = _generate(config, documents)
    digest = _hash(train, test)
    lines = [
        f"# Instruct samples ({config.generator}, {config_path})",
        "",
        f"content hash: {digest}",
    ]
    if repeat:
        again = _generate(config, documents)
        same = _hash(again[0], again[1]) == digest
        lines.append(
            f"second generation: {'same hash' if same else 'DIFFERENT hash'} ({again[3]:.1f} s)"
        )
    lines += ["", *_report(train, test, generated, seconds, per_template, seed)]
    text = "\n".join(lines) + "\n"
    print(text)
    if out is not None:
        out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    app()
