"""Steps of the training pipeline."""
