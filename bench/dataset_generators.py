"""Time each offline generator on a few extracts of the indexed corpus and print their pairs.

    python -m bench.dataset_generators [--extracts 10] [--generators structure,keyphrase,local]

Reads the cleaned documents from the feature store (run the feature pipeline first), takes a
seeded sample of extracts, and for each generator prints seconds, usage and the
instruction → answer pairs (answers cut to 300 characters; extracts cut along the documents'
sections). ``local`` also writes a generic answer to each instruction (the preference
pipeline's "rejected"), timed separately. ``bench/instruct_samples.py`` shows samples per
template of a whole dataset.
"""

import json
import time
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    extracts: Annotated[int, typer.Option(help="Extracts per generator")] = 10,
    generators: Annotated[
        str, typer.Option(help="Comma-separated kinds")
    ] = "structure,keyphrase,local",
    seed: Annotated[int, typer.Option(help="Sample seed")] = 42,
    threads: Annotated[int, typer.Option(help="torch threads")] = 2,
) -> None:
    """Print timings and pairs."""
    import torch

    from llm_twin.application.dataset.extracts import ExtractConfig, split_documents
    from llm_twin.application.dataset.generation import build_generator
    from llm_twin.application.dataset.instruct import instruct_rows, sample_extracts
    from llm_twin.application.dataset.sources import read_cleaned_documents
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults, get_settings

    apply_offline_defaults()
    configure_logging("WARNING")
    torch.set_num_threads(threads)
    with open_vector_store(get_settings()) as store:
        documents = read_cleaned_documents(store)
    every = split_documents(documents, ExtractConfig(sections=True))
    chosen = sample_extracts(every, extracts, seed)
    for kind in generators.split(","):
        generator = build_generator(kind.strip())
        started = time.perf_counter()
        rows = instruct_rows(chosen, generator)
        seconds = time.perf_counter() - started
        print(f"## {generator.name}: {len(rows)}/{len(chosen)} pairs in {seconds:.1f} s")
        print(json.dumps(generator.usage.counts("usage")))
        for row in rows:
            shown = {"template": row["template"], "instruction": row["instruction"]}
            print(json.dumps({**shown, "answer": row["answer"][:300]}))
        if kind.strip() == "local":
            started = time.perf_counter()
            answers = generator.answers([row["instruction"] for row in rows])
            seconds = time.perf_counter() - started
            print(f"## {generator.name} generic answers: {len(answers)} in {seconds:.1f} s")
            for row, answer in zip(rows, answers, strict=True):
                print(json.dumps({"prompt": row["instruction"], "rejected": (answer or "")[:300]}))
        generator.close()


if __name__ == "__main__":
    app()
