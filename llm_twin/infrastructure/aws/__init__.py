"""AWS integrations: SageMaker training jobs."""
