"""ETL step: load a warehouse JSON export (e.g. the shared sample corpus) into the warehouse."""

from typing import Annotated

from zenml import step

from llm_twin.infrastructure.db.mongo import open_warehouse
from steps.metadata import record_counts


# Never cached: the warehouse may have been emptied or changed since the last run; the import
# itself is idempotent (upsert by link, unchanged documents are skipped).
@step(enable_cache=False)
def import_warehouse_json(directory: str) -> Annotated[dict[str, int], "imported"]:
    """Upsert every ``*Document.json`` file of ``directory`` into the warehouse.

    Args:
        directory: Folder of a warehouse export (``tools.data_warehouse export-json``); a
            relative path is taken from the project root.

    Returns:
        ``{"records_inserted", "records_updated", "records_unchanged"}`` summed over the
        collections (users included).
    """
    from llm_twin.application.warehouse_json import import_directory
    from llm_twin.domain.exceptions import InvalidInput
    from llm_twin.settings import PROJECT_ROOT

    folder = PROJECT_ROOT / directory
    if not folder.is_dir():
        raise InvalidInput(f"import_dir {directory!r} is not a folder (looked in {folder})")
    with open_warehouse() as warehouse:
        results = import_directory(warehouse, folder)
    totals = {
        f"records_{outcome}": sum(getattr(result, outcome) for result in results.values())
        for outcome in ("inserted", "updated", "unchanged")
    }
    record_counts({"import_dir": str(folder)}, **totals)
    return totals
