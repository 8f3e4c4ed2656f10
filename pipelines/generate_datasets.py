"""Dataset generation (the third FTI stage): instruct (SFT) and preference (DPO) datasets from
the authors' cleaned documents, saved as versioned ``datasets.DatasetDict`` folders.

Both keep the author's voice: the author's text is the answer (instruct) or the chosen answer
(preference); generators only write the instructions and the generic rejected answers.
"""

from typing import TYPE_CHECKING, Any

from zenml import pipeline

from pipelines.configs import (
    DatasetConfig,
    DatasetSplit,
    GenerateInstructDatasetsConfig,
    GeneratePreferenceDatasetsConfig,
    InstructGeneration,
    PreferenceGeneration,
)
from steps.generate_datasets.collect_feedback import collect_feedback_pairs
from steps.generate_datasets.filter_split import filter_and_split
from steps.generate_datasets.generate_instruct import generate_instruct_samples
from steps.generate_datasets.generate_preference import generate_preference_samples
from steps.generate_datasets.query_documents import query_cleaned_documents
from steps.generate_datasets.save import save_dataset

if TYPE_CHECKING:
    from zenml.steps.entrypoint_function_utils import StepArtifact


def _documents(config: DatasetConfig, wait_for: list[Any] | None) -> "StepArtifact":
    """The query step for the configured authors and categories (after ``wait_for``)."""
    return query_cleaned_documents(config.author_full_names, config.categories, after=wait_for)


def _split_and_save(
    kind: str,
    samples: "StepArtifact",
    corrections: "StepArtifact | None",
    config: DatasetConfig,
) -> "StepArtifact":
    """Filter and split ``samples`` (plus ``corrections``), then save the ``kind`` dataset."""
    splits = filter_and_split(samples, corrections, config.part(DatasetSplit))
    return save_dataset(kind, splits, config.hub_repo_id, config.card_parameters())


@pipeline
def generate_instruct_datasets(
    config: GenerateInstructDatasetsConfig, wait_for: list[Any] | None = None
) -> Any:
    """Instruction → answer pairs by instruction back-translation.

    Args:
        config: ``configs/generate_instruct_datasets.yaml``.
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The save step's output (the dataset version).
    """
    samples = generate_instruct_samples(
        _documents(config, wait_for), config.part(InstructGeneration)
    )
    return _split_and_save("instruct", samples, None, config)


@pipeline
def generate_preference_datasets(
    config: GeneratePreferenceDatasetsConfig, wait_for: list[Any] | None = None
) -> Any:
    """(prompt, chosen = the author's text, rejected = a generic LLM answer) triples, plus
    user corrections from the inference service.

    Args:
        config: ``configs/generate_preference_datasets.yaml``.
        wait_for: The steps this run waits for, when ``end_to_end_data`` composes it.

    Returns:
        The dataset version that the save step wrote.
    """
    documents = _documents(config, wait_for)
    samples = generate_preference_samples(documents, config.part(PreferenceGeneration))
    corrections = collect_feedback_pairs(config.include_feedback, config.feedback_dir)
    return _split_and_save("preference", samples, corrections, config)
