"""End-to-end data: ETL → feature engineering → instruct and preference datasets, in one run.

    poe run-end-to-end-data-pipeline       # configs/end_to_end_data.yaml: the sample corpus

The stages are the standalone pipelines, composed (their steps join this run) and chained so
each waits for the one before. Each stage reads its own config file, validated like a standalone
run, so ``configs/feature_engineering.yaml`` and the dataset configs stay the single source of
truth. Every stage is idempotent: re-running imports, embeds and generates nothing new.
"""

from typing import Any

from zenml import pipeline

from pipelines.configs import (
    DigitalDataEtlConfig,
    EndToEndDataConfig,
    FeatureEngineeringConfig,
    GenerateInstructDatasetsConfig,
    GeneratePreferenceDatasetsConfig,
    config_from_file,
)
from pipelines.digital_data_etl import digital_data_etl
from pipelines.feature_engineering import feature_engineering
from pipelines.generate_datasets import generate_instruct_datasets, generate_preference_datasets
from steps.etl.import_warehouse_json import import_warehouse_json
from steps.generate_datasets.prepare_base_model import prepare_offline_base_model


@pipeline
def end_to_end_data(config: EndToEndDataConfig) -> None:
    """Collect (import and/or crawl), index, and turn the writing into training datasets.

    Args:
        config: The stages and their config files (``configs/end_to_end_data.yaml``).
    """
    collected: list[Any] = []
    if config.import_dir:
        collected.append(import_warehouse_json(config.import_dir))
    for path in config.etl_configs:
        etl = config_from_file(DigitalDataEtlConfig, path)
        collected.append(digital_data_etl(etl, wait_for=collected[-1:]))
    features = config_from_file(FeatureEngineeringConfig, config.feature_engineering_config)
    indexed = feature_engineering(features, wait_for=collected)
    instruct = generate_instruct_datasets(
        config_from_file(GenerateInstructDatasetsConfig, config.instruct_datasets_config),
        wait_for=[indexed],
    )
    if config.preference_datasets:
        preference = config_from_file(
            GeneratePreferenceDatasetsConfig, config.preference_datasets_config
        )
        previous = instruct
        if preference.uses_local_llm():
            # The local generator runs the offline base model: convert it once, first.
            previous = prepare_offline_base_model(after=[instruct])
        generate_preference_datasets(preference, wait_for=[previous])
