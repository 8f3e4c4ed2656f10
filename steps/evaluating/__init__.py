"""Steps of the evaluation pipeline."""
