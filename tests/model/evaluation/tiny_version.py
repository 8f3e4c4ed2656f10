"""A registered twin version built for real on the tiny Llama (SFT + DPO, a few steps), with an
instruct dataset whose test split has three rows: what the evaluation tests evaluate."""

from pathlib import Path

from tests.model.conftest import FACTS, PAIRS, build_tiny_model, tiny_config


def save_evaluation_datasets(data_dir: Path) -> None:
    """Instruct (test split: three of the facts, so the trained models know them) and
    preference datasets in ``data_dir``'s store."""
    from datasets import Dataset, DatasetDict

    from llm_twin.application.dataset import store

    def split(rows: list[tuple[str, ...]], names: tuple[str, ...]) -> Dataset:
        return Dataset.from_dict({name: [row[i] for row in rows] for i, name in enumerate(names)})

    instruct = ("instruction", "answer")
    preference = ("prompt", "chosen", "rejected")
    store.save(
        data_dir,
        "instruct",
        DatasetDict(train=split(FACTS, instruct), test=split(FACTS[:3], instruct)),
        "# tiny instruct set\n",
    )
    store.save(
        data_dir,
        "preference",
        DatasetDict(train=split(PAIRS, preference), test=split(PAIRS[:1], preference)),
        "# tiny preference set\n",
    )


def train_tiny_version(data_dir: Path, base_dir: Path) -> int:
    """Build the tiny base model in ``base_dir``, train SFT + DPO on the datasets saved in
    ``data_dir`` and register the result (no ZenML); return the version number."""
    import torch

    from llm_twin.model.finetuning.run import run_training
    from llm_twin.model.registry import ModelRegistry, registry_root
    from llm_twin.settings import Settings

    torch.set_num_threads(1)
    build_tiny_model(base_dir)
    save_evaluation_datasets(data_dir)
    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    config = tiny_config(base_dir, sft={"max_steps": 20}, dpo={"max_steps": 4})
    outcome = run_training(config, settings)
    registry = ModelRegistry(registry_root(settings), config.model_name, zenml=False)
    return registry.register(outcome, config).version
