"""ETL step: find the user by full name in the warehouse, creating them if missing."""

from typing import Annotated

from zenml import step

from llm_twin.domain.documents import UserDocument
from llm_twin.infrastructure.db.mongo import open_warehouse
from steps.metadata import record_counts


# Never cached: the warehouse may have changed (or been emptied) since the last run.
@step(enable_cache=False)
def get_or_create_user(user_full_name: str) -> Annotated[UserDocument, "user"]:
    """Return the warehouse user called ``user_full_name`` (created on first run).

    Args:
        user_full_name: ``"First Last"``; the first word is the first name.
    """
    with open_warehouse() as warehouse:
        user, created = warehouse.users.get_or_create(user_full_name)
    record_counts(
        {"user_id": str(user.id), "user_full_name": user.full_name}, users_created=int(created)
    )
    return user
