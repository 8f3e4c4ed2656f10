"""Steps of the instruct and preference dataset generation pipelines."""
