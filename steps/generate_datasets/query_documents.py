"""Dataset step 1: read the cleaned documents from the feature store (vector store)."""

from collections import Counter
from typing import Annotated, Any

from zenml import step

from steps.metadata import record_counts


# Never cached: the feature store changes between runs with identical parameters.
@step(enable_cache=False)
def query_cleaned_documents(
    author_full_names: list[str] | None = None,
    categories: list[str] | None = None,
) -> Annotated[list[dict[str, Any]], "cleaned_documents"]:
    """The cleaned documents of the chosen authors and categories.

    Args:
        author_full_names: Only these authors (empty or None: all).
        categories: Only these categories (``articles``, ``posts``, ``repositories``; empty:
            all).

    Raises:
        InvalidInput: no cleaned document matches (the message says to run the feature
            pipeline first).
    """
    from llm_twin.application.dataset.sources import read_cleaned_documents
    from llm_twin.domain.exceptions import InvalidInput
    from llm_twin.domain.types import DataCategory
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings

    names = [name for name in author_full_names or [] if name.strip()]
    wanted = [DataCategory.parse(name).value for name in categories or []]
    with open_vector_store(get_settings()) as store:
        documents = read_cleaned_documents(store, names, wanted)
    if not documents:
        scope = f" for authors {names}" if names else ""
        scope += f" in categories {wanted}" if wanted else ""
        raise InvalidInput(
            f"no cleaned documents{scope} in the feature store: run the feature engineering "
            "pipeline first (poe run-feature-engineering-pipeline)"
        )
    record_counts(
        {
            "documents_per_category": dict(Counter(d.category for d in documents)),
            "documents_per_author": dict(Counter(d.author_full_name for d in documents)),
        },
        documents_read=len(documents),
    )
    return [document.to_dict() for document in documents]
