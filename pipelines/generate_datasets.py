"""Dataset generation (the third FTI stage): instruct (SFT) and preference (DPO) datasets from
the authors' cleaned documents, saved as versioned ``datasets.DatasetDict`` folders.

Both keep the author's voice: the author's text is the answer (instruct) or the chosen answer
(preference); generators only write the instructions and the generic rejected answers.
"""

from typing import Any

from zenml import pipeline

from steps.generate_datasets.collect_feedback import collect_feedback_pairs
from steps.generate_datasets.filter_split import filter_and_split
from steps.generate_datasets.generate_instruct import generate_instruct_samples
from steps.generate_datasets.generate_preference import generate_preference_samples
from steps.generate_datasets.query_documents import query_cleaned_documents
from steps.generate_datasets.save import save_dataset


@pipeline
def generate_instruct_datasets(
    author_full_names: list[str] | None = None,
    categories: list[str] | None = None,
    extracts: dict[str, Any] | None = None,
    max_extracts: int = 0,
    generator: str = "keyphrase",
    generator_options: dict[str, Any] | None = None,
    mode: str = "backtranslation",
    filters: dict[str, Any] | None = None,
    test_size: float = 0.1,
    seed: int = 42,
    hub_repo_id: str = "",
    wait_for: list[Any] | None = None,
) -> Any:
    """Instruction → answer pairs by instruction back-translation.

    Args:
        author_full_names: Only these authors (empty: all).
        categories: Only these categories (empty: all).
        extracts: ``{min_chars, max_chars, max_per_document}``.
        max_extracts: At most this many extracts (seeded sample; 0: all).
        generator: ``keyphrase`` (offline, no LLM), ``local`` (SmolLM2) or ``openai``.
        generator_options: The generator's keyword arguments.
        mode: ``backtranslation`` or ``answer`` (the LLM writes the answers: the reference).
        filters: Quality filter settings.
        test_size: Fraction of documents per category in test.
        seed: Seed of sampling and split.
        hub_repo_id: Also push to this Hugging Face dataset repo (needs a token).
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The save step's output (the dataset version).
    """
    documents = query_cleaned_documents(author_full_names, categories, after=wait_for)
    samples = generate_instruct_samples(
        documents, extracts, max_extracts, generator, generator_options, mode, seed
    )
    splits = filter_and_split(samples, None, filters, test_size, seed)
    return save_dataset(
        "instruct",
        splits,
        hub_repo_id,
        {"generator": generator, "mode": mode, "max_extracts": max_extracts},
    )


@pipeline
def generate_preference_datasets(
    author_full_names: list[str] | None = None,
    categories: list[str] | None = None,
    extracts: dict[str, Any] | None = None,
    max_extracts: int = 32,
    instruction_generator: str = "keyphrase",
    instruction_generator_options: dict[str, Any] | None = None,
    rejected_generator: str = "local",
    rejected_generator_options: dict[str, Any] | None = None,
    ranking: str = "author",
    judge_options: dict[str, Any] | None = None,
    max_similarity: float = 0.5,
    include_feedback: bool = True,
    feedback_dir: str | None = None,
    filters: dict[str, Any] | None = None,
    test_size: float = 0.1,
    seed: int = 42,
    hub_repo_id: str = "",
    wait_for: list[Any] | None = None,
) -> Any:
    """(prompt, chosen = the author's text, rejected = a generic LLM answer) triples, plus
    user corrections from the inference service.

    Args:
        author_full_names: Only these authors (empty: all).
        categories: Only these categories (empty: all).
        extracts: ``{min_chars, max_chars, max_per_document}``.
        max_extracts: At most this many extracts (LLM time grows with it).
        instruction_generator: Writes the prompts (``keyphrase``, ``local``, ``openai``).
        instruction_generator_options: Its keyword arguments.
        rejected_generator: Writes the rejected answers (``local`` or ``openai``).
        rejected_generator_options: Its keyword arguments.
        ranking: ``author`` or ``judge`` (an OpenAI-compatible LLM picks chosen).
        judge_options: Keyword arguments of the judge.
        max_similarity: Drop pairs whose chosen and rejected are this similar or more.
        include_feedback: Add the service's user corrections as pairs (origin ``feedback``).
        feedback_dir: Folder of the service's traces (default ``TRACES_DIR``).
        filters: Quality filter settings.
        test_size: Fraction of documents per category in test.
        seed: Seed of sampling, generation and split.
        hub_repo_id: Also push to this Hugging Face dataset repo (needs a token).
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The save step's output (the dataset version).
    """
    documents = query_cleaned_documents(author_full_names, categories, after=wait_for)
    samples = generate_preference_samples(
        documents,
        extracts,
        max_extracts,
        instruction_generator,
        instruction_generator_options,
        rejected_generator,
        rejected_generator_options,
        ranking,
        judge_options,
        max_similarity,
        seed,
    )
    corrections = collect_feedback_pairs(include_feedback, feedback_dir)
    splits = filter_and_split(samples, corrections, filters, test_size, seed)
    return save_dataset(
        "preference",
        splits,
        hub_repo_id,
        {
            "instruction_generator": instruction_generator,
            "rejected_generator": rejected_generator,
            "ranking": ranking,
            "max_extracts": max_extracts,
        },
    )
