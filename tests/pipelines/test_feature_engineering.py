"""One real ZenML run of the feature engineering pipeline on a few documents (real MiniLM)."""

import json

import pytest
import yaml

from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION, EMBEDDED_CHUNKS_COLLECTION

pytestmark = pytest.mark.slow


def test_pipeline_indexes_then_skips_everything(
    settings_env, zenml_store, tmp_path, sample_warehouse_dir
):
    import torch

    from llm_twin.domain.documents import ArticleDocument
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings
    from tools.run import run_pipeline

    torch.set_num_threads(1)
    records = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())
    # Three short articles keep the encoder's work small.
    records = sorted(records, key=lambda r: len(r["content"]["Content"]))[:3]
    with open_warehouse() as warehouse:
        warehouse.articles.upsert_many([ArticleDocument.from_mongo(r) for r in records])

    config = tmp_path / "feature_engineering.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "parameters": {
                    "author_full_names": [],
                    "categories": ["articles"],
                    "chunking": {"articles": {"chunk_tokens": 256, "overlap_tokens": 0}},
                    "batch_documents": 2,
                }
            }
        )
    )

    first = run_pipeline("feature_engineering", config, no_cache=False)
    assert first["status"] == "completed"
    counts = first["counts"]
    assert counts["documents_processed"] == 3 and counts["documents_skipped"] == 0
    assert counts["documents_deleted"] == 0
    assert counts["chunks_embedded"] == counts["chunks_total"] > 3

    # Same parameters, caching allowed: the sync check must still run and find nothing to do.
    second = run_pipeline("feature_engineering", config, no_cache=False)
    assert second["status"] == "completed"
    assert second["counts"]["documents_processed"] == 0
    assert second["counts"]["documents_skipped"] == 3
    assert second["counts"]["chunks_embedded"] == 0
    assert second["counts"]["chunks_total"] == counts["chunks_total"]

    with open_vector_store(get_settings()) as store:
        assert store.count(CLEANED_DOCUMENTS_COLLECTION) == 3
        assert store.count(EMBEDDED_CHUNKS_COLLECTION) == counts["chunks_total"]
