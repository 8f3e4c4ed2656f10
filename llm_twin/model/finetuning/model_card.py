"""The model card (``README.md``) of a registered version, in the Hugging Face card format."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from llm_twin.model.finetuning.run import TrainingOutcome
    from llm_twin.model.registry import ModelVersion

#: How much of a dataset's own card is quoted in the lineage section.
DATASET_CARD_CHARS = 1500


def _metrics_table(metrics: dict[str, float]) -> str:
    rows = ["| metric | value |", "| --- | --- |"]
    rows += [f"| {key} | {value:.6g} |" for key, value in sorted(metrics.items())]
    return "\n".join(rows)


def _dataset_lineage(data_dir: Path | None, versions: dict[str, str]) -> str:
    lines = []
    for kind, version in versions.items():
        if not version:
            continue
        lines.append(f"- **{kind}** dataset version `{version}`")
        card = data_dir / "datasets" / kind / version / "README.md" if data_dir else None
        if card is not None and card.is_file():
            text = card.read_text(encoding="utf-8")[:DATASET_CARD_CHARS].strip()
            quoted = "\n".join("  > " + line for line in text.splitlines())
            lines.append(f"  (`{card}`), whose card begins:\n\n{quoted}\n")
    return "\n".join(lines) or "- (no dataset)"


def _pt_sentence(config: dict[str, Any], version: "ModelVersion") -> str:
    """How the continued-pretraining stage changed the base model (empty when it did not run)."""
    pt = config.get("pt", {})
    if not pt.get("enabled"):
        return ""
    metrics = version.metrics
    method = "with a LoRA adapter merged in" if pt.get("method") == "lora" else "on every weight"
    return (
        f"continued-pretrained ({method}: causal language modelling on "
        f"{int(metrics.get('pt_train_documents', 0))} of the author's documents of the train "
        f"split, {int(metrics.get('pt_corpus_tokens', 0))} tokens in blocks of "
        f"{pt.get('block_size')}, {int(metrics.get('pt_steps', 0))} steps; the documents of the "
        "test split are held out), then "
    )


def _pt_folder(config: dict[str, Any]) -> str:
    pt = config.get("pt", {})
    if not pt.get("enabled"):
        return ""
    if pt.get("method") == "full":
        return "; `pt_model/` holds the continued-pretrained model"
    return " (`adapters/pt` on the base model, `adapters/sft` on the pt-merged model)"


def write_model_card(
    path: Path, version: "ModelVersion", config: dict[str, Any], outcome: "TrainingOutcome"
) -> Path:
    """Write the card of ``version`` to ``path``.

    Args:
        path: The ``README.md`` to write.
        version: The ``registry.ModelVersion`` being registered.
        config: The run's config as plain data.
        outcome: The ``finetuning.run.TrainingOutcome`` (device, Comet, durations).
    """
    data_dir = Path(outcome.run_dir).parents[2] if outcome.run_dir else None
    stages = ["continued-pretraining", "sft"] if config.get("pt", {}).get("enabled") else ["sft"]
    front_matter = {
        "base_model": version.base_model,
        "library_name": "transformers",
        "license": "apache-2.0",
        "tags": ["llm-twin", *stages, "dpo", "lora", "trl"],
        "pipeline_tag": "text-generation",
    }
    comet = outcome.comet or {}
    text = f"""---
{yaml.safe_dump(front_matter, sort_keys=False).strip()}
---

# {version.name} version {version.version}

A digital twin of an author: `{version.base_model}` {_pt_sentence(config, version)}fine-tuned
with LoRA by supervised fine-tuning (TRL `SFTTrainer`, loss on the answers only) on the instruct
dataset, then aligned with DPO (TRL `DPOTrainer`, reference = the SFT model with the adapter
disabled) on the preference dataset. The `model/` folder holds the merged weights, the tokenizer
and the chat template the twin is served with (`chat_template.jinja`); `adapters/` holds the LoRA
adapters{_pt_folder(config)}.

| | |
| --- | --- |
| registered | {version.created_at} |
| git commit | `{version.git_commit}` |
| run fingerprint | `{version.fingerprint}` |
| device | {outcome.device}, {outcome.precision}, quantization {outcome.quantization} |
| duration | {outcome.duration_s} s |
| Comet experiment | {comet.get("experiment_key") or "not tracked"} {comet.get("archive", "")} |

## Data lineage

Author documents (warehouse) → dataset generation pipelines → versioned datasets under
`DATA_DIR/datasets` → this model.

{_dataset_lineage(data_dir, version.dataset_versions)}

## Metrics

{_metrics_table(version.metrics)}

## Training curves

![training curves](training_curves.png)

## Config

```yaml
{yaml.safe_dump(config, sort_keys=False).strip()}
```

## Record

```json
{json.dumps(version.to_json(), indent=1)}
```
"""
    path.write_text(text, encoding="utf-8")
    return path
