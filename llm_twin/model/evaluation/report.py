"""The human-readable evaluation report (Markdown + a PNG of the metrics), its model-card section
and the files saved with the version: ``report.md``, ``metrics.png``, ``metrics.json``,
``samples.jsonl``."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_twin.model.evaluation.generation import MODEL_ORDER

#: Every metric the report knows: (one-line explanation, which way is better).
METRICS: dict[str, tuple[str, str]] = {
    "heldout_perplexity": (
        "How surprised the model is by the plain text of the held-out documents (whole "
        "documents of the test split that no training stage saw; no chat template; "
        "token-weighted).",
        "lower",
    ),
    "perplexity": (
        "How surprised the model is by the author's held-out answers (answer tokens only, "
        "conditioned on the instruction in the chat template).",
        "lower",
    ),
    "style_delta": (
        "Burrows' Delta between the answers' function-word frequencies and the author's "
        "(mean |z-score difference|; 0 = the author's profile).",
        "lower",
    ),
    "sentence_length_distance": (
        "Bray-Curtis distance between the answers' and the author's sentence-length "
        "distributions (0 identical, 1 disjoint).",
        "lower",
    ),
    "punctuation_distance": (
        "Bray-Curtis distance between punctuation rates per 100 words (0 identical, 1 disjoint).",
        "lower",
    ),
    "reference_similarity": (
        "Mean cosine similarity (MiniLM embeddings) of each answer to the author's reference "
        "answer.",
        "higher",
    ),
    "mean_words": ("Mean answer length in words (capped by max_new_tokens).", "—"),
    "length_ratio": (
        "Mean ratio of answer words to reference-answer words (1 = the author's length).",
        "closer to 1",
    ),
    "repeated_trigram_rate": (
        "Share of an answer's word 3-grams repeating an earlier one (loops, stutter).",
        "lower",
    ),
    "distinct_2": ("Distinct word bigrams over all bigrams of all answers.", "higher"),
    "empty_rate": ("Share of empty answers.", "lower"),
    "judge_accuracy": ("Judge's accuracy score, 1-3, mean (± 95 % CI).", "higher"),
    "judge_style": ("Judge's author-style score, 1-3, mean (± 95 % CI).", "higher"),
    "judge_failures": ("Judge replies that never parsed as the requested JSON.", "lower"),
    "win_rate": (
        "Share of pairwise comparisons with the base won in both answer orders.",
        "higher",
    ),
    "loss_rate": ("Share lost in both orders.", "lower"),
    "tie_rate": ("Share tied or order-dependent (position bias).", "—"),
    "pairwise_failures": ("Rows whose pairwise verdicts never parsed.", "lower"),
}

#: Metrics drawn in the PNG (the offline ones).
PLOTTED = (
    "heldout_perplexity",
    "perplexity",
    "style_delta",
    "sentence_length_distance",
    "punctuation_distance",
    "reference_similarity",
    "length_ratio",
    "repeated_trigram_rate",
    "distinct_2",
)

CARD_START = "<!-- llm-twin:evaluation:start -->"
CARD_END = "<!-- llm-twin:evaluation:end -->"
#: Where each evaluation of a version is kept by fingerprint (under its ``evaluation/``).
HISTORY_DIR = "history"


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


def metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    """Markdown table: one row per metric, one column per model (base | pt | sft | dpo)."""
    models = [name for name in MODEL_ORDER if name in metrics]
    names = [name for name in METRICS if any(name in metrics[m] for m in models)]
    names += sorted(
        {key for m in models for key in metrics[m]}
        - set(METRICS)
        - {"judge_accuracy_ci95", "judge_style_ci95"}
    )
    rows = [
        "| metric | " + " | ".join(models) + " | better |",
        "| --- | " + " | ".join("---:" for _ in models) + " | --- |",
    ]
    for name in names:
        cells = []
        for model in models:
            value = metrics[model].get(name)
            cell = "–" if value is None else _number(value)
            ci = metrics[model].get(f"{name}_ci95")
            if value is not None and ci is not None:
                cell += f" ± {_number(ci)}"
            cells.append(cell)
        better = METRICS.get(name, ("", "—"))[1]
        rows.append(f"| `{name}` | " + " | ".join(cells) + f" | {better} |")
    return "\n".join(rows)


def explanations(metrics: dict[str, dict[str, float]]) -> str:
    """One line per metric present."""
    present = {key for values in metrics.values() for key in values}
    return "\n".join(
        f"- `{name}`: {text}" for name, (text, _) in METRICS.items() if name in present
    )


def gate_section(gate: dict[str, Any] | None, promotion: str) -> str:
    """The gate's verdict, the check that decided it, its checks and the skipped comparisons."""
    if gate is None:
        return "No gate was applied."
    decided = gate.get("decided_by", "")
    lines = [
        f"Evaluated model: **{gate['model']}**. Gate **{'passed' if gate['passed'] else 'failed'}**"
        f"; {promotion}.",
        "",
        f"Decided by: **{decided}**"
        + (" (the first failing check)" if decided and not gate["passed"] else ""),
        "",
        "| check | against | value | reference | limit | passed |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for check in gate["checks"]:
        reference = check.get("reference")
        lines.append(
            f"| `{check['name']}` | {check.get('against', 'base')} | {_number(check['value'])} "
            f"| {'–' if reference is None else _number(reference)} | {check['comparison']} "
            f"{_number(check['limit'])} | {'yes' if check['passed'] else '**no**'} |"
        )
    skipped = gate.get("skipped") or []
    if skipped:
        lines += ["", "Not compared:", ""]
        lines += [f"- `{item['name']}` vs {item['against']}: {item['reason']}" for item in skipped]
    return "\n".join(lines)


def flat_numbers(section: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a nested dict, keys joined with ``.``."""
    numbers: dict[str, float] = {}
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            numbers |= flat_numbers(value, name + ".")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            numbers[name] = value
    return numbers


def rag_section(rag: dict[str, Any] | None) -> str:
    """The RAG evaluation's numbers (any nested dict of metrics) as a table; empty without."""
    if not rag:
        return ""
    rows = ["| metric | value |", "| --- | ---: |"]
    rows += [f"| `{key}` | {_number(value)} |" for key, value in flat_numbers(rag).items()]
    text_items = {
        f"{group}.{key}": value
        for group, values in rag.items()
        if isinstance(values, dict)
        for key, value in values.items()
        if isinstance(value, str)
    }
    notes = "".join(f"\n- `{key}`: {value}" for key, value in text_items.items())
    return "## RAG\n\n" + "\n".join(rows) + ("\n" + notes if notes else "") + "\n"


def _quote(text: str, limit: int = 600) -> str:
    text = (text or "(empty)").strip()
    if len(text) > limit:
        text = text[:limit].rstrip() + " …"
    return "\n".join("> " + line for line in text.splitlines()) or "> (empty)"


def samples_section(samples: Sequence[dict[str, Any]], count: int) -> str:
    """``count`` test rows: instruction, the author's answer and every model's answer."""
    if count <= 0 or not samples:
        return ""
    parts = [
        "## Sample answers\n",
        f"The first {min(count, len(samples))} test instructions, answered by every model "
        "(greedy).\n",
    ]
    for number, sample in enumerate(samples[:count], start=1):
        parts.append(f"### {number}. {sample['instruction'].strip()[:200]}\n")
        parts.append(f"**author (reference)**\n\n{_quote(sample['reference'])}\n")
        for model, answer in sample["answers"].items():
            parts.append(f"**{model}**\n\n{_quote(answer)}\n")
    return "\n".join(parts)


def _heldout_line(heldout: dict[str, Any] | None) -> str:
    if not heldout:
        return "not scored"
    if heldout.get("skipped"):
        return f"not scored: {heldout['skipped']}"
    capped = " (capped: each document's opening)" if heldout.get("capped") else ""
    return (
        f"{heldout.get('documents')} documents, {heldout.get('tokens_scored')} of "
        f"{heldout.get('tokens_total')} tokens scored{capped}, windows of "
        f"{heldout.get('window')} tokens"
    )


def render_report(result: dict[str, Any], rag: dict[str, Any] | None = None) -> str:
    """The Markdown report of an evaluation result (as :mod:`.run` builds it).

    Args:
        result: ``{"model_name", "version", "metrics", "gate", "promotion", "details",
            "samples", "samples_in_report", ...}``.
        rag: The RAG evaluation's metrics (optional; rendered as its own table).
    """
    details = result.get("details", {})
    judge = details.get("judge")
    meta = [
        ("model", f"{result['model_name']} version {result['version']}"),
        ("evaluated", result.get("evaluated_at", "")),
        ("fingerprint", f"`{result.get('fingerprint', '')}`"),
        ("instruct dataset", f"`{details.get('dataset_version', '')}` (test split)"),
        ("test rows", details.get("rows", "")),
        ("held-out documents", _heldout_line(details.get("heldout"))),
        ("generation", details.get("generation", "")),
        ("device", details.get("device", "")),
        ("judge", f"{judge['model']} at {judge['base_url'] or 'OpenAI'}" if judge else "none"),
        ("duration", f"{details.get('duration_s', '')} s"),
    ]
    lines = [
        f"# Evaluation of {result['model_name']} version {result['version']}",
        "",
        "The base model, the model after continued pretraining (pt: base + pt adapter or the "
        "pt model, when the version ran it), the SFT model (+ SFT adapter) and the DPO model "
        "(the version's merged model) read the held-out documents and answer the held-out test "
        "instructions; their answers are compared with the author's.",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in meta],
        "",
        "## Metrics",
        "",
        metrics_table(result["metrics"]),
        "",
        explanations(result["metrics"]),
        "",
        "![metrics](metrics.png)",
        "",
        "## Gate",
        "",
        gate_section(result.get("gate"), result.get("promotion", "no promotion configured")),
        "",
    ]
    section = rag_section(rag)
    if section:
        lines += [section]
    lines.append(samples_section(result.get("samples", []), result.get("samples_in_report", 3)))
    return "\n".join(lines).rstrip() + "\n"


def card_section(result: dict[str, Any], rag: dict[str, Any] | None = None) -> str:
    """The model card's evaluation section (between :data:`CARD_START` and :data:`CARD_END`)."""
    gate = result.get("gate")
    verdict = "no gate" if gate is None else ("passed" if gate["passed"] else "failed")
    if gate is not None and gate.get("decided_by"):
        verdict += f" (decided by: {gate['decided_by']})"
    parts = [
        CARD_START,
        "## Evaluation",
        "",
        f"Evaluated {result.get('evaluated_at', '')} on {result['details'].get('rows', '?')} "
        f"held-out test rows (fingerprint `{result.get('fingerprint', '')}`); gate: {verdict}. "
        "Full report: [evaluation/report.md](evaluation/report.md).",
        "",
        metrics_table(result["metrics"]),
        "",
    ]
    if rag:
        parts += [rag_section(rag)]
    parts.append(CARD_END)
    return "\n".join(parts)


def replace_card_section(card: str, section: str) -> str:
    """``card`` with its evaluation section replaced by ``section`` (appended when absent)."""
    start, end = card.find(CARD_START), card.find(CARD_END)
    if start >= 0 and end > start:
        return card[:start] + section + card[end + len(CARD_END) :]
    return card.rstrip() + "\n\n" + section + "\n"


def plot_metrics(metrics: dict[str, dict[str, float]], path: Path) -> Path:
    """Bar charts of the offline metrics, one panel per metric, base | pt | sft | dpo."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here
    import matplotlib.pyplot as plt

    models = [name for name in MODEL_ORDER if name in metrics]
    names = [name for name in PLOTTED if any(name in metrics[m] for m in models)]
    columns = 4
    rows = max(1, -(-len(names) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    colours = {"base": "#9e9e9e", "pt": "#55a868", "sft": "#4c72b0", "dpo": "#dd8452"}
    for index, axis in enumerate(axes.flat):
        if index >= len(names):
            axis.axis("off")
            continue
        name = names[index]
        values = [metrics[m].get(name, 0.0) for m in models]
        axis.bar(models, values, color=[colours[m] for m in models])
        axis.set_title(f"{name} ({METRICS[name][1]})", fontsize=9)
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def write_outputs(
    directory: Path, result: dict[str, Any], rag: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``report.md``, ``metrics.png``, ``metrics.json`` and ``samples.jsonl`` into
    ``directory`` (each replaced atomically), and ``history/<fingerprint>.json`` (metrics and
    samples: an evaluation with other settings replaces the files above, not this one); return
    their paths."""
    (directory / HISTORY_DIR).mkdir(parents=True, exist_ok=True)
    paths = {
        "report": directory / "report.md",
        "plot": directory / "metrics.png",
        "metrics": directory / "metrics.json",
        "samples": directory / "samples.jsonl",
        "history": directory / HISTORY_DIR / f"{result['fingerprint']}.json",
    }
    stored = {key: value for key, value in result.items() if key != "samples"}
    if rag:
        stored["rag"] = rag
    contents = {
        "report": render_report(result, rag),
        "metrics": json.dumps(stored, indent=1, default=str) + "\n",
        "samples": "".join(
            json.dumps(sample, ensure_ascii=False) + "\n" for sample in result.get("samples", [])
        ),
        "history": json.dumps(stored | {"samples": result.get("samples", [])}, default=str),
    }
    for key, text in contents.items():
        temporary = paths[key].with_name(paths[key].name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(paths[key])
    temporary_plot = directory / "metrics.tmp.png"
    plot_metrics(result["metrics"], temporary_plot).replace(paths["plot"])
    return paths
