"""Steps of the digital data ETL pipeline."""
