"""Perplexity of the author's held-out documents under a registered version's models, stage by
stage: the base model, the continued-pretrained (pt) model, the SFT model and the final model.

    DATA_DIR=... python -m bench.heldout_perplexity                 # the newest version
    DATA_DIR=... python -m bench.heldout_perplexity --version 3 --window 1024 --stages base,final
    DATA_DIR=... python -m bench.heldout_perplexity --max-windows 10   # quicker, rougher

The held-out documents are the documents of the version's instruct test split
(``application.dataset.heldout``), read whole from the feature store: no training stage saw them.
Each document's plain text is tokenized, cut into windows of ``--window`` tokens (no overlap) and
scored; the perplexity is ``exp(total negative log-likelihood / scored tokens)`` over all windows
(token-weighted). The stage models are rebuilt from the version's folders: ``adapters/pt`` merged
into the base model (or ``pt_model/``), ``adapters/sft`` merged into that, ``model/`` as is.
Prints one JSON line per stage (perplexity, its ratio to the base model's, tokens, seconds) and a
summary line.
"""

import json
import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False)

STAGES = ("base", "pt", "sft", "final")


def windows_of(texts: list[str], tokenizer: Any, window: int, limit: int = 0) -> list[list[int]]:
    """The documents' token windows (``window`` tokens, no overlap; one-token tails dropped);
    with ``limit``, that many spread evenly over all of them (a quicker, rougher estimate).

    Args:
        texts: The documents' plain texts.
        tokenizer: The models' tokenizer.
        window: Tokens per window.
        limit: Keep at most this many windows (0: all).
    """
    windows = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        windows += [ids[i : i + window] for i in range(0, len(ids), window) if len(ids) - i > 1]
    if limit and len(windows) > limit:
        step = len(windows) / limit
        windows = [windows[int(index * step)] for index in range(limit)]
    return windows


def document_perplexity(model: Any, windows: list[list[int]]) -> dict:
    """Token-weighted perplexity of the windows: ``exp(total NLL / scored tokens)``.

    Args:
        model: A causal LM (eval mode).
        windows: Token windows (:func:`windows_of`).
    """
    import torch

    total_nll, total_tokens = 0.0, 0
    for chunk in windows:
        inputs = torch.tensor([chunk])
        with torch.inference_mode():
            logits = model(input_ids=inputs).logits[0, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits, inputs[0, 1:], reduction="sum")
        total_nll += float(nll)
        total_tokens += len(chunk) - 1
    return {"perplexity": math.exp(total_nll / max(total_tokens, 1)), "tokens": total_tokens}


def stage_model(stage: str, version_dir: Path, base: str) -> Any:
    """The model of ``stage`` rebuilt from the version folder (None when the stage is absent)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    def load(path: Path | str) -> Any:
        return AutoModelForCausalLM.from_pretrained(str(path), dtype="float32")

    def pt_model() -> Any:
        if (version_dir / "pt_model" / "config.json").is_file():
            return load(version_dir / "pt_model")
        if (version_dir / "adapters" / "pt").is_dir():
            adapter = str(version_dir / "adapters" / "pt")
            return PeftModel.from_pretrained(load(base), adapter).merge_and_unload()
        return None

    if stage == "base":
        return load(base)
    if stage == "final":
        return load(version_dir / "model")
    model = pt_model()
    if stage == "pt":
        return model
    start = model if model is not None else load(base)
    adapter = version_dir / "adapters" / "sft"
    return PeftModel.from_pretrained(start, str(adapter)).merge_and_unload()


def held_out_texts(version: Any, settings: Any) -> list[str]:
    """The full texts of the version's held-out documents (its instruct test split's)."""
    from llm_twin.application.dataset import store
    from llm_twin.application.dataset.heldout import held_out_document_ids, partition_documents
    from llm_twin.application.dataset.sources import read_cleaned_documents
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    instruct_version = version.dataset_versions["instruct"]
    instruct = store.load(settings.storage.data_dir, "instruct", instruct_version)
    held_ids = held_out_document_ids(instruct)
    with open_vector_store(settings) as vectors:
        _, held_out = partition_documents(read_cleaned_documents(vectors), held_ids)
    return [document.content for document in held_out if document.content.strip()]


@app.command()
def main(
    version_selector: Annotated[str, typer.Option("--version", help="number or latest")] = "latest",
    window: Annotated[int, typer.Option(help="tokens per scored window")] = 1024,
    stages: Annotated[str, typer.Option(help="comma-separated: base,pt,sft,final")] = ",".join(
        STAGES
    ),
    model_name: Annotated[str, typer.Option("--model-name")] = "llm-twin",
    max_windows: Annotated[
        int, typer.Option(help="score this many windows spread over the documents (0: all)")
    ] = 0,
) -> None:
    """Score the held-out documents under each stage's model of a registered version."""
    import torch
    from transformers import AutoTokenizer

    from llm_twin.model.finetuning.config import parse_config
    from llm_twin.model.finetuning.run import resolve_base_model
    from llm_twin.model.registry import ModelRegistry, registry_root
    from llm_twin.settings import get_settings

    settings = get_settings()
    version = ModelRegistry(registry_root(settings), model_name, zenml=False).select(
        version_selector
    )
    import yaml

    config = parse_config(yaml.safe_load((version.path / "config.yaml").read_text()))
    base = resolve_base_model(config, settings)
    texts = held_out_texts(version, settings)
    tokenizer = AutoTokenizer.from_pretrained(str(version.model_dir))
    windows = windows_of(texts, tokenizer, window, max_windows)
    results: dict[str, Any] = {}
    for stage in [name.strip() for name in stages.split(",") if name.strip()]:
        started = time.perf_counter()
        model = stage_model(stage, version.path, base)
        if model is None:
            continue
        model.eval()
        scored = document_perplexity(model, windows)
        del model
        results[stage] = scored | {"seconds": round(time.perf_counter() - started, 1)}
        if "base" in results:
            results[stage]["ratio_to_base"] = round(
                scored["perplexity"] / results["base"]["perplexity"], 4
            )
        print(json.dumps({"stage": stage, **results[stage]}), flush=True)
    summary = {
        "version": version.version,
        "documents": len(texts),
        "window": window,
        "windows": len(windows),
        "threads": torch.get_num_threads(),
        "perplexity": {stage: round(r["perplexity"], 3) for stage, r in results.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    app()
