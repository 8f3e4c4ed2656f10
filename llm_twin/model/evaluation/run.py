"""One evaluation of a registered version, end to end.

:func:`evaluate` resolves the version and its test data, then for each compared model (base, pt,
sft, dpo: those the version has) scores the perplexity of the held-out documents' plain text and
of the author's held-out answers, generates answers and measures them (stylometry, embedding
similarity, length, repetition), and asks the judge when one is configured. The result is reused
when the version's ``evaluation/metrics.json`` holds the same fingerprint (same version,
evaluation config, data and judge) unless ``force``.

:func:`publish` applies the gate (against the base and against the production version's saved
evaluation), promotes when it passes and ``promote_to`` says so, writes the report files into
``registry/<name>/<n>/evaluation/``, records the results in the version (record and model card)
and logs them to Comet.
"""

import datetime as dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.application.dataset import store
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.infrastructure.llm.judge_endpoint import JudgeEndpoint
from llm_twin.model.evaluation.config import EvaluationConfig
from llm_twin.model.evaluation.generation import ModelSpec
from llm_twin.model.registry import ModelRegistry, ModelVersion, registry_root
from llm_twin.settings import Settings, get_settings

if TYPE_CHECKING:
    from datasets import DatasetDict

    from llm_twin.model.evaluation.gate import Production
    from llm_twin.model.evaluation.heldout import HeldOutTexts
    from llm_twin.model.evaluation.stylometry import StyleProfile

EVALUATION_DIR = "evaluation"
#: Offline metrics of the twin copied into the version record's metrics (``eval_<name>``).
RECORDED = (
    "heldout_perplexity",
    "perplexity",
    "style_delta",
    "reference_similarity",
    "judge_accuracy",
    "judge_style",
)


def base_model_path(version: ModelVersion, settings: Settings) -> str:
    """The folder (or Hub id) of ``version``'s base model; the offline base is prepared if
    missing."""
    if version.base_model.startswith("offline:"):
        from llm_twin.model.base_model import base_model_dir, prepare_base_model

        return str(prepare_base_model(base_model_dir(settings)))
    return version.base_model


def model_specs(version: ModelVersion, settings: Settings) -> list[ModelSpec]:
    """The compared models of ``version``, in the report's order
    (:data:`~llm_twin.model.evaluation.generation.MODEL_ORDER`):

    - base;
    - pt, when the version ran continued pretraining: base + ``adapters/pt`` (LoRA) or its
      ``pt_model/`` folder (full fine-tuning);
    - sft: the pt model (else base) + ``adapters/sft``;
    - dpo, when the version was aligned: its merged ``model/``. Without a DPO adapter
      ``model/`` *is* the SFT model: it is evaluated as sft.

    Raises:
        InvalidInput: the version's model folder is missing.
    """
    if not (version.model_dir / "config.json").is_file():
        raise InvalidInput(f"version {version.version} has no merged model at {version.model_dir}")
    base = base_model_path(version, settings)
    tokenizer = str(version.model_dir)  # the trained chat template, as the service uses it
    adapters = version.path / "adapters"
    specs = [ModelSpec("base", base, base)]
    trunk, stack = base, ()  # what the SFT adapter was trained on
    if (adapters / "pt").is_dir():
        stack = (str(adapters / "pt"),)
        specs.append(ModelSpec("pt", base, tokenizer, stack))
    elif (version.path / "pt_model" / "config.json").is_file():
        trunk = str(version.path / "pt_model")
        specs.append(ModelSpec("pt", trunk, tokenizer))
    if (adapters / "dpo").is_dir() and (adapters / "sft").is_dir():
        specs.append(ModelSpec("sft", trunk, tokenizer, (*stack, str(adapters / "sft"))))
        specs.append(ModelSpec("dpo", str(version.model_dir), tokenizer))
    else:
        specs.append(ModelSpec("sft", str(version.model_dir), tokenizer))
    return specs


def test_rows(dataset: "DatasetDict", max_samples: int, seed: int) -> tuple[list[str], list[str]]:
    """(instructions, author answers) of the test split, a seeded sample of ``max_samples``.

    Raises:
        InvalidInput: the test split is empty.
    """
    test = dataset["test"]
    if len(test) == 0:
        raise InvalidInput("the instruct dataset's test split is empty: nothing to evaluate on")
    if len(test) > max_samples:
        test = test.shuffle(seed=seed).select(range(max_samples))
    return [str(x).strip() for x in test["instruction"]], [str(x).strip() for x in test["answer"]]


def _similarities(answers: list[str], references: list[str], settings: Settings) -> float:
    from llm_twin.application.embeddings import get_embedder

    embedder = get_embedder(settings.rag.embedding_model_id, settings.rag.embedding_device)
    vectors = embedder.embed([*answers, *references])
    count = len(answers)
    scores = [
        # Normalised vectors: the dot product is the cosine. An empty answer scores 0.
        0.0
        if not answer.strip()
        else sum(a * b for a, b in zip(vectors[i], vectors[count + i], strict=True))
        for i, answer in enumerate(answers)
    ]
    return sum(scores) / count


def _fingerprint_inputs(
    version: ModelVersion,
    dataset_version: str,
    judge: JudgeEndpoint | None,
    specs: list[ModelSpec],
    heldout: "HeldOutTexts",
) -> dict[str, Any]:
    return {
        "model": version.name,
        "version": version.version,
        "training_fingerprint": version.fingerprint,
        "dataset_version": dataset_version,
        "models": [spec.name for spec in specs],
        "judge": None if judge is None else {"base_url": judge.base_url, "model": judge.model},
        "heldout": heldout.digest if heldout.texts else heldout.reason,
    }


def _heldout(
    config: EvaluationConfig, settings: Settings, dataset: "DatasetDict", base: ModelSpec
) -> "HeldOutTexts":
    """The held-out documents' texts to score (none when ``heldout_documents`` is off)."""
    from llm_twin.model.evaluation.heldout import HeldOutTexts, heldout_texts

    if not config.heldout_documents:
        return HeldOutTexts([], reason="held-out documents not scored (heldout_documents: false)")
    texts = heldout_texts(settings, dataset, base.tokenizer_path, config.heldout_max_tokens)
    if texts.reason:
        logger.warning("held-out-document perplexity skipped: {}", texts.reason)
    else:
        logger.info(
            "held-out documents: {} ({} of {} tokens scored per model)",
            texts.documents,
            texts.tokens_selected,
            texts.tokens_total,
        )
    return texts


def stored_result(version: ModelVersion, fingerprint: str) -> dict[str, Any] | None:
    """The stored evaluation of ``version`` with this ``fingerprint`` (its latest, else one
    kept in ``evaluation/history/``), else None."""
    from llm_twin.model.evaluation.report import HISTORY_DIR

    folder = version.path / EVALUATION_DIR
    kept = folder / HISTORY_DIR / f"{fingerprint}.json"
    if kept.is_file():
        stored = json.loads(kept.read_text(encoding="utf-8"))
    elif (folder / "metrics.json").is_file():  # saved before evaluations were kept by fingerprint
        stored = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        samples_file = folder / "samples.jsonl"
        lines = samples_file.read_text().splitlines() if samples_file.is_file() else []
        stored["samples"] = [json.loads(line) for line in lines if line]
    else:
        return None
    if stored.get("fingerprint") != fingerprint:
        return None
    for key in ("rag", "gate", "promotion", "stage"):  # published extras, recomputed
        stored.pop(key, None)
    return stored


def evaluate(config: EvaluationConfig, settings: Settings) -> dict[str, Any]:
    """Evaluate the configured version (or reuse the stored identical evaluation).

    Returns:
        ``{"model_name", "version", "fingerprint", "evaluated_at", "twin", "metrics",
        "comparability", "details", "samples", "samples_in_report", "reused"}`` where
        ``metrics`` is ``{"base": {...}, "pt": {...}, "sft": {...}, "dpo": {...}}`` (no ``pt``
        without continued pretraining, no ``dpo`` for an SFT-only version) and
        ``comparability`` the per-metric hashes the gate compares with production's.
    """
    from llm_twin.model.evaluation.judge import describe, resolve_judge

    started = time.perf_counter()
    registry = ModelRegistry(registry_root(settings), config.model_name, zenml=False)
    version = registry.select(str(config.model_version))
    dataset_version = version.dataset_versions.get("instruct") or ""
    if not dataset_version:
        raise InvalidInput(f"version {version.version} records no instruct dataset version")
    judge_endpoint = resolve_judge(config.judge, settings)
    specs = model_specs(version, settings)
    dataset = store.load(settings.storage.data_dir, "instruct", dataset_version)
    heldout = _heldout(config, settings, dataset, specs[0])
    fingerprint = config.fingerprint(
        **_fingerprint_inputs(version, dataset_version, judge_endpoint, specs, heldout)
    )
    stored = None if config.force else stored_result(version, fingerprint)
    if stored is not None:
        logger.info(
            "version {} was evaluated with this config and data: reusing {} (force: true "
            "evaluates again)",
            version.version,
            version.path / EVALUATION_DIR,
        )
        return stored | {"reused": True, "samples_in_report": config.samples_in_report}
    instructions, references = test_rows(dataset, config.max_samples, config.seed)
    profile = _style_profile(dataset, references, config.style_words)
    answers, metrics, engine, device = _run_models(
        config, specs, instructions, references, heldout.texts
    )
    for name, texts in answers.items():
        metrics[name] |= _style_metrics(profile, texts, references, settings)
    twin = "dpo" if "dpo" in answers else "sft"
    judgements = (
        {}
        if judge_endpoint is None
        else _judge(config, judge_endpoint, instructions, references, answers, metrics, twin)
    )
    samples = _samples(instructions, references, answers, judgements)
    return {
        "model_name": version.name,
        "version": version.version,
        "fingerprint": fingerprint,
        "evaluated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "twin": twin,
        "metrics": {
            name: {key: round(float(value), 6) for key, value in values.items()}
            for name, values in metrics.items()
        },
        "comparability": _comparability(config, version, dataset_version, heldout, engine),
        "details": {
            "dataset_version": dataset_version,
            "rows": len(instructions),
            "heldout": heldout.describe()
            | ({} if heldout.reason else {"window": config.heldout_window}),
            "style_profile_texts": profile.texts,
            "generation": f"{engine}, greedy, max {config.max_new_tokens} new tokens, "
            f"repetition penalty {config.repetition_penalty}",
            "device": device,
            "judge": describe(judge_endpoint) if judge_endpoint else None,
            "models": {spec.name: spec.describe() for spec in specs},
            "duration_s": round(time.perf_counter() - started, 2),
        },
        "samples": samples,
        "samples_in_report": config.samples_in_report,
        "reused": False,
    }


def _style_profile(dataset: "DatasetDict", references: list[str], words: int) -> "StyleProfile":
    """The author's style profile: from the train split's answers (the test references when the
    split is empty)."""
    from llm_twin.model.evaluation.stylometry import StyleProfile

    author_texts = [str(answer) for answer in dataset["train"]["answer"]]
    return StyleProfile.from_texts(author_texts or references, words)


def _style_metrics(
    profile: "StyleProfile", texts: list[str], references: list[str], settings: Settings
) -> dict[str, float]:
    """How close one model's answers are to the author: style, sentence length, punctuation,
    embedding similarity to the references and surface overlap."""
    from llm_twin.model.evaluation.stylometry import surface_metrics

    return {
        "style_delta": profile.delta(texts),
        "sentence_length_distance": profile.sentence_length_distance(texts),
        "punctuation_distance": profile.punctuation_distance(texts),
        "reference_similarity": _similarities(texts, references, settings),
        **surface_metrics(texts, references),
    }


def _samples(
    instructions: list[str],
    references: list[str],
    answers: dict[str, list[str]],
    judgements: dict[str, list[Any]],
) -> list[dict[str, Any]]:
    """One record per test row: the instruction, the reference, every model's answer and the
    judge's verdicts (when judged)."""
    return [
        {
            "instruction": instruction,
            "reference": reference,
            "answers": {name: answers[name][index] for name in answers},
            **({"judge": {n: judgements[n][index] for n in judgements}} if judgements else {}),
        }
        for index, (instruction, reference) in enumerate(zip(instructions, references, strict=True))
    ]


def _comparability(
    config: EvaluationConfig,
    version: ModelVersion,
    dataset_version: str,
    heldout: "HeldOutTexts",
    engine: str,
) -> dict[str, str]:
    """What makes each gated metric of this evaluation comparable with production's."""
    return config.comparability(
        base_model=version.base_model,
        dataset_version=dataset_version,
        heldout=heldout.digest if heldout.texts else None,
        generation=_generation(engine, config),
    )


def _generation(engine: str, config: EvaluationConfig) -> str:
    """How the answers were decoded, as the style comparison with production needs it: the
    engine(s) and the batch size each used (``"ct2 batch 1"``, ``"ct2 batch 1+transformers
    batch 10"``)."""
    batches = {"ct2": config.ct2_batch_size, "transformers": config.batch_size}
    return "+".join(
        f"{name} batch {batches[name]}" if name in batches else name for name in engine.split("+")
    )


def _run_models(
    config: EvaluationConfig,
    specs: list[ModelSpec],
    instructions: list[str],
    references: list[str],
    heldout: list[str],
) -> tuple[dict[str, list[str]], dict[str, dict[str, float]], str, str]:
    """Perplexities and answers of each model, one model in memory at a time."""
    import torch

    from llm_twin.model.evaluation.generation import resolve_device, vllm_available

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    use_vllm = config.use_vllm == "auto" and device == "cuda" and vllm_available()
    engines = {"vllm"} if use_vllm else set()
    answers: dict[str, list[str]] = {}
    metrics: dict[str, dict[str, float]] = {}
    for spec in specs:
        started = time.perf_counter()
        metrics[spec.name], answers[spec.name], engine = _run_model(
            config, spec, device, use_vllm, instructions, references, heldout
        )
        engines.add(engine)
        logger.info("{} evaluated in {:.1f} s", spec.name, time.perf_counter() - started)
    return answers, metrics, "+".join(sorted(engines)), device


def _run_model(
    config: EvaluationConfig,
    spec: ModelSpec,
    device: str,
    use_vllm: bool,
    instructions: list[str],
    references: list[str],
    heldout: list[str],
) -> tuple[dict[str, float], list[str], str]:
    """(perplexities, answers, engine) of one model."""
    import tempfile

    from llm_twin.model.evaluation.generation import (
        ct2_export_for,
        export_merged,
        generate,
        generate_ct2,
        generate_vllm,
        loaded,
        merged_ct2_wanted,
        save_merged,
    )
    from llm_twin.model.evaluation.perplexity import document_perplexity, perplexity

    with loaded(spec, device) as model:
        metrics: dict[str, float] = {}
        if heldout:
            metrics["heldout_perplexity"], _ = document_perplexity(
                model.model,
                model.tokenizer,
                heldout,
                window=config.heldout_window,
                device=device,
            )
        metrics["perplexity"] = perplexity(
            model.model,
            model.tokenizer,
            instructions,
            references,
            max_length=config.max_length,
            batch_size=config.batch_size,
            device=device,
        )
        if not use_vllm:
            engine = get_settings().llm.engine
            export = ct2_export_for(spec, device, engine)
            on_ct2 = (config.max_new_tokens, config.ct2_batch_size, config.repetition_penalty)
            if export is not None:
                return metrics, generate_ct2(export, instructions, *on_ct2), "ct2"
            if merged_ct2_wanted(spec, device, engine):
                with tempfile.TemporaryDirectory() as scratch:
                    export = export_merged(model, Path(scratch))
                    return metrics, generate_ct2(export, instructions, *on_ct2), "ct2"
            options = (config.max_new_tokens, config.batch_size, config.repetition_penalty)
            return metrics, generate(model, instructions, *options), "transformers"
        with tempfile.TemporaryDirectory() as scratch:
            path = spec.path
            if spec.adapters:  # vLLM needs merged weights in a folder
                path = str(save_merged(model, Path(scratch) / "merged"))
            texts = generate_vllm(
                path,
                spec.tokenizer_path,
                instructions,
                config.max_new_tokens,
                config.repetition_penalty,
            )
        return metrics, texts, "vllm"


def _judge(
    config: EvaluationConfig,
    endpoint: JudgeEndpoint,
    instructions: list[str],
    references: list[str],
    answers: dict[str, list[str]],
    metrics: dict[str, dict[str, float]],
    twin: str,
) -> dict[str, list[Any]]:
    """Rubric scores of every model and twin-vs-base preferences into ``metrics``; returns the
    per-row rubric verdicts by model."""
    from llm_twin.model.evaluation.judge import Judge

    judge = Judge(endpoint, retries=config.judge_retries, max_tokens=config.judge_max_tokens)
    verdicts: dict[str, list[Any]] = {}
    try:
        for name, texts in answers.items():
            scores = judge.rubric(instructions, references, texts)
            metrics[name] |= scores.summary()
            verdicts[name] = scores.verdicts
        metrics[twin] |= judge.pairwise(instructions, references, answers[twin], answers["base"])
    finally:
        judge.close()
    logger.info("judge {}: {} requests", endpoint.model, judge.requests)
    return verdicts


def production_baseline(
    registry: ModelRegistry, candidate: ModelVersion, wanted: dict[str, str] | None = None
) -> "Production":
    """What the gate compares ``candidate`` with: the production version's saved evaluation
    (the one measured like ``wanted``, the candidate's comparability hashes, when it has one),
    or the reason there is none to compare with."""
    from llm_twin.model.evaluation.gate import Production, load_production

    production = registry.in_stage("production")
    if production is None:
        return Production.absent("no version is in production")
    if production.version == candidate.version:
        return Production.absent("the candidate is the production version", production.version)
    return load_production(production.version, production.path / EVALUATION_DIR, wanted)


def publish(
    result: dict[str, Any],
    config: EvaluationConfig,
    settings: Settings,
    rag: dict[str, Any] | None = None,
    *,
    zenml: bool = True,
) -> dict[str, Any]:
    """Gate, promote, write the report files, record the results in the version and track them.

    Args:
        result: Output of :func:`evaluate`.
        config: The evaluation config (gate thresholds, ``promote_to``, tracking).
        settings: DATA_DIR and Comet settings.
        rag: The RAG evaluation's metrics, rendered in the report when given.
        zenml: Mirror a promotion into ZenML's Model Control Plane.

    Returns:
        ``result`` with ``gate``, ``promotion``, ``stage``, ``report`` (path) and ``comet``.
    """
    from llm_twin.model.evaluation.gate import evaluate_gate, gated_comparability, gated_metrics
    from llm_twin.model.evaluation.report import card_section, write_outputs

    registry = ModelRegistry(registry_root(settings), result["model_name"], zenml=zenml)
    version = registry.get(int(result["version"]))
    comparability = gated_comparability(result, rag)
    gate = evaluate_gate(
        result["metrics"],
        config.thresholds,
        result["twin"],
        production=production_baseline(registry, version, comparability),
        candidate=gated_metrics(result, rag),
        comparability=comparability,
    )
    logger.info("gate {}: {}", "passed" if gate["passed"] else "failed", gate["decided_by"])
    if config.promote_to == "none":
        promotion = "no promotion configured (promote_to: none)"
    elif not gate["passed"]:
        promotion = f"not promoted to {config.promote_to} (gate failed); stage {version.stage}"
    elif version.stage == config.promote_to:
        promotion = f"already in {config.promote_to}"
    else:
        version = registry.promote(version.version, config.promote_to)
        promotion = f"promoted to {config.promote_to}"
    published = dict(result, gate=gate, promotion=promotion, stage=version.stage)
    folder = version.path / EVALUATION_DIR
    paths = write_outputs(folder, published, rag)
    if result.get("reused"):  # tracked when it was computed: keep that experiment
        comet = (version.details.get("evaluation") or {}).get("comet") or {}
    else:
        comet = _track(published, config, settings, paths["plot"], rag)
    twin_metrics = result["metrics"][result["twin"]]
    recorded = {f"eval_{key}": twin_metrics[key] for key in RECORDED if key in twin_metrics}
    recorded |= {
        f"eval_base_{key}": result["metrics"]["base"][key]
        for key in ("heldout_perplexity", "perplexity", "style_delta")
        if key in result["metrics"]["base"]
    }
    registry.record_evaluation(
        version.version,
        {
            "fingerprint": result["fingerprint"],
            "evaluated_at": result["evaluated_at"],
            "twin": result["twin"],
            "gate_passed": gate["passed"],
            "gate_decided_by": gate["decided_by"],
            "report": str(paths["report"]),
            "comet": comet or None,
        },
        recorded,
        card_section(published, rag),
    )
    logger.info("evaluation report: {}", paths["report"])
    return published | {"report": str(paths["report"]), "comet": comet}


def _track(
    result: dict[str, Any],
    config: EvaluationConfig,
    settings: Settings,
    plot: Path,
    rag: dict[str, Any] | None,
) -> dict[str, str]:
    from llm_twin.model.evaluation.report import flat_numbers
    from llm_twin.model.finetuning.tracking import start_tracking

    tracker = start_tracking(
        config.tracking,
        settings,
        f"{result['model_name']}-v{result['version']}-eval-{result['fingerprint']}",
    )
    if not tracker.enabled:
        return {}
    try:
        tracker.log_parameters(
            {"evaluation": config.model_dump(mode="json"), "details": result["details"]}
        )
        for name, values in result["metrics"].items():
            tracker.log_metrics(values, step=0, prefix=name)
        if rag:
            tracker.log_metrics(flat_numbers(rag), step=0, prefix="rag")
        tracker.log_image(plot, "evaluation_metrics")
        key = tracker.key or ""
    finally:
        tracker.end()
    return {"experiment_key": key} | ({"archive": str(tracker.archive)} if tracker.archive else {})
