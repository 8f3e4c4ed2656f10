"""End-to-end data: ETL → feature engineering → instruct and preference datasets, in one run.

    poe run-end-to-end-data-pipeline       # configs/end_to_end_data.yaml: the sample corpus

The stages are the standalone pipelines, composed (their steps join this run) and chained so
each waits for the one before. Each stage takes the parameters of its own config file, so
``configs/feature_engineering.yaml`` and the dataset configs stay the single source of truth.
Every stage is idempotent: re-running imports, embeds and generates nothing new.
"""

from typing import Any

from zenml import pipeline

from pipelines.digital_data_etl import digital_data_etl
from pipelines.feature_engineering import feature_engineering
from pipelines.generate_datasets import generate_instruct_datasets, generate_preference_datasets
from pipelines.parameters import load_parameters
from steps.etl.import_warehouse_json import import_warehouse_json
from steps.generate_datasets.prepare_base_model import prepare_offline_base_model

# Set by the composition only; a stage config that names it would clash.
_COMPOSED_ONLY = ("wait_for",)


def _stage_parameters(config: str) -> dict[str, Any]:
    parameters = load_parameters(config)
    for key in _COMPOSED_ONLY:
        parameters.pop(key, None)
    return parameters


def _uses_local_llm(parameters: dict[str, Any]) -> bool:
    """True when a preference generator is the local LLM (the pipeline's defaults included)."""
    import inspect

    defaults = inspect.signature(generate_preference_datasets.entrypoint).parameters
    return any(
        parameters.get(name, defaults[name].default) == "local"
        for name in ("instruction_generator", "rejected_generator")
    )


@pipeline
def end_to_end_data(
    import_dir: str = "",
    etl_configs: list[str] | None = None,
    feature_engineering_config: str = "configs/feature_engineering.yaml",
    instruct_datasets_config: str = "configs/generate_instruct_datasets.yaml",
    preference_datasets_config: str = "configs/generate_preference_datasets.yaml",
    preference_datasets: bool = True,
) -> None:
    """Collect (import and/or crawl), index, and turn the writing into training datasets.

    Args:
        import_dir: A warehouse JSON export to load first (the sample corpus offline; relative
            to the project root). Empty: no import.
        etl_configs: ``digital_data_etl`` configs to crawl, one per author (needs internet).
        feature_engineering_config: Config of the feature engineering stage.
        instruct_datasets_config: Config of the instruct dataset stage.
        preference_datasets_config: Config of the preference dataset stage.
        preference_datasets: Also build the preference (DPO) dataset.
    """
    collected: list[Any] = []
    if import_dir:
        collected.append(import_warehouse_json(import_dir))
    for config in etl_configs or []:
        collected.append(digital_data_etl(**_stage_parameters(config), wait_for=collected[-1:]))
    indexed = feature_engineering(
        **_stage_parameters(feature_engineering_config), wait_for=collected
    )
    instruct = generate_instruct_datasets(
        **_stage_parameters(instruct_datasets_config), wait_for=[indexed]
    )
    if preference_datasets:
        parameters = _stage_parameters(preference_datasets_config)
        previous = instruct
        if _uses_local_llm(parameters):
            # The local generator runs the offline base model: convert it once, first.
            previous = prepare_offline_base_model(after=[instruct])
        generate_preference_datasets(**parameters, wait_for=[previous])
