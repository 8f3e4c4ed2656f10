"""Dataset generation (the third FTI stage): instruct (SFT) and preference (DPO) datasets from
the authors' cleaned documents, saved as versioned ``datasets.DatasetDict`` folders.

Both keep the author's voice: the author's text is the answer (instruct) or the chosen answer
(preference); generators only write the instructions and the generic rejected answers.
"""

from typing import Any

from zenml import pipeline

from pipelines.configs import (
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
    documents = query_cleaned_documents(config.author_full_names, config.categories, after=wait_for)
    samples = generate_instruct_samples(documents, config.part(InstructGeneration))
    splits = filter_and_split(samples, None, config.part(DatasetSplit))
    return save_dataset("instruct", splits, config.hub_repo_id, config.card_parameters())


@pipeline
def generate_preference_datasets(
    config: GeneratePreferenceDatasetsConfig, wait_for: list[Any] | None = None
) -> Any:
    """(prompt, chosen = the author's text, rejected = a generic LLM answer) triples, plus
    user corrections from the inference service.

    Args:
        config: ``configs/generate_preference_datasets.yaml``.
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The save step's output (the dataset version).
    """
    documents = query_cleaned_documents(config.author_full_names, config.categories, after=wait_for)
    samples = generate_preference_samples(documents, config.part(PreferenceGeneration))
    corrections = collect_feedback_pairs(config.include_feedback, config.feedback_dir)
    splits = filter_and_split(samples, corrections, config.part(DatasetSplit))
    return save_dataset("preference", splits, config.hub_repo_id, config.card_parameters())
