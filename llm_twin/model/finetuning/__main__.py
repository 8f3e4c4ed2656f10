"""Train without ZenML: ``python -m llm_twin.model.finetuning --config configs/training.yaml``.

The SageMaker training job runs this (see ``model/finetuning/sagemaker_launch``). Inside a
SageMaker container (``SM_MODEL_DIR`` set) it takes its inputs from the job's channels
(``datasets``, ``base_model``), keeps its run folder in ``/opt/ml/checkpoints`` (synced to S3,
so an interrupted spot job resumes) and writes the merged model, the adapters, the curves and
``training_summary.json`` to ``SM_MODEL_DIR``. Prints the summary as one JSON line.
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train, copy the result to ``--output-dir``; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="configs/training*.yaml")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(os.environ["SM_MODEL_DIR"]) if "SM_MODEL_DIR" in os.environ else None,
        help="Copy the merged model, adapters and curves here (default: SM_MODEL_DIR)",
    )
    # SageMaker passes every hyperparameter as --name value; the ones not used here are ignored.
    args, _ = parser.parse_known_args(argv)
    if "SM_MODEL_DIR" in os.environ:
        os.environ.setdefault("DATA_DIR", "/opt/ml/checkpoints")

    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.logs import configure_logging
    from llm_twin.model.finetuning.config import load_config_file
    from llm_twin.model.finetuning.run import run_training
    from llm_twin.settings import apply_offline_defaults, get_settings

    settings = get_settings()
    apply_offline_defaults(settings)
    configure_logging()
    try:
        config = load_config_file(args.config)
        datasets_channel = os.environ.get("SM_CHANNEL_DATASETS")
        if datasets_channel:
            shutil.copytree(
                datasets_channel, settings.storage.data_dir / "datasets", dirs_exist_ok=True
            )
        base_channel = os.environ.get("SM_CHANNEL_BASE_MODEL")
        if base_channel:
            config = config.model_copy(update={"base_model": base_channel})
        outcome = run_training(config, settings)
    except LLMTwinError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = {
        "fingerprint": outcome.fingerprint,
        "dataset_versions": outcome.dataset_versions,
        "device": outcome.device,
        "metrics": outcome.metrics,
        "duration_s": outcome.duration_s,
    }
    if args.output_dir is not None:
        target = args.output_dir
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(outcome.model_dir, target / "model", dirs_exist_ok=True)
        for stage, adapter in outcome.adapters.items():
            shutil.copytree(adapter, target / "adapters" / stage, dirs_exist_ok=True)
        if outcome.pt_model:
            shutil.copytree(outcome.pt_model, target / "pt_model", dirs_exist_ok=True)
        shutil.copy2(outcome.curves, target / "training_curves.png")
        (target / "training_summary.json").write_text(json.dumps(summary, indent=1))
        for archive in [outcome.comet.get("archive")]:
            if archive:
                shutil.copy2(archive, target / Path(archive).name)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
