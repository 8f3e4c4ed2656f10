"""AWS integrations: SageMaker training jobs, inference endpoints and the execution role."""
