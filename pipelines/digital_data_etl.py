"""Digital data ETL: collect a user's content into the warehouse."""

from zenml import pipeline

from steps.etl.get_or_create_user import get_or_create_user


@pipeline
def digital_data_etl(user_full_name: str) -> None:
    """Get or create the user in the warehouse.

    Args:
        user_full_name: The author's full name, e.g. ``"Maxime Labonne"``.
    """
    get_or_create_user(user_full_name)
