"""ZenML pipelines. Each module defines one pipeline; ``tools/run.py`` runs them by name."""

#: Pipeline name -> "module:function". Modules are imported only when their pipeline runs.
PIPELINES: dict[str, str] = {
    "digital_data_etl": "pipelines.digital_data_etl:digital_data_etl",
    "feature_engineering": "pipelines.feature_engineering:feature_engineering",
    "training": "pipelines.training:training",
    "evaluating": "pipelines.evaluating:evaluating",
    "generate_instruct_datasets": "pipelines.generate_datasets:generate_instruct_datasets",
    "generate_preference_datasets": "pipelines.generate_datasets:generate_preference_datasets",
    "end_to_end_data": "pipelines.end_to_end_data:end_to_end_data",
}
