"""Steps of the feature engineering pipeline."""
