"""One real ZenML run of the composed end-to-end data pipeline on a few sample articles:
import → features (real MiniLM) → instruct (keyphrase) → preference (rejected answers from a fake
OpenAI-compatible server on 127.0.0.1); then a re-run that finds nothing to do."""

import json

import pytest
import yaml

pytestmark = pytest.mark.slow

FILTERS = {"min_answer_chars": 200, "near_dup_threshold": 0.8, "decontamination_ngram": 13}


@pytest.fixture
def small_export(tmp_path, sample_warehouse_dir):
    """A warehouse export of the two users and the five shortest sample articles."""
    folder = tmp_path / "export"
    folder.mkdir()
    users = (sample_warehouse_dir / "UserDocument.json").read_text()
    (folder / "UserDocument.json").write_text(users)
    records = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())
    records = sorted(records, key=lambda r: len(r["content"]["Content"]))[:5]
    (folder / "ArticleDocument.json").write_text(json.dumps(records))
    return folder


def _write(path, parameters):
    path.write_text(yaml.safe_dump({"parameters": parameters}))
    return str(path)


def test_end_to_end_data_chains_the_stages_and_is_idempotent(
    settings_env, zenml_store, tmp_path, small_export, generic_llm
):
    import torch

    from llm_twin.application.dataset import store
    from tools.run import run_pipeline

    torch.set_num_threads(1)
    features = _write(
        tmp_path / "features.yaml",
        {"categories": ["articles"], "chunking": {"articles": {"chunk_tokens": 256}}},
    )
    extracts = {"min_chars": 300, "max_chars": 900, "max_per_document": 2}
    instruct = _write(
        tmp_path / "instruct.yaml",
        {
            "extracts": extracts,
            "generator": "keyphrase",
            "generator_options": {"top_n": 2, "candidates": 10},
            "filters": FILTERS,
            "test_size": 0.4,
            "seed": 1,
        },
    )
    preference = _write(
        tmp_path / "preference.yaml",
        {
            "extracts": extracts,
            "max_extracts": 6,
            "instruction_generator": "keyphrase",
            "instruction_generator_options": {"top_n": 2, "candidates": 10},
            "rejected_generator": "openai",
            "rejected_generator_options": {"base_url": generic_llm, "model": "fake"},
            "include_feedback": False,
            "filters": FILTERS,
            "test_size": 0.4,
            "seed": 1,
        },
    )
    config = tmp_path / "end_to_end.yaml"
    _write(
        config,
        {
            "import_dir": str(small_export),
            "feature_engineering_config": features,
            "instruct_datasets_config": instruct,
            "preference_datasets_config": preference,
        },
    )

    first = run_pipeline("end_to_end_data", config, no_cache=False)
    assert first["status"] == "completed"
    counts = first["counts"]
    assert counts["records_inserted"] == 2 + 5
    assert counts["documents_processed"] == 5 and counts["chunks_embedded"] > 5
    assert counts["datasets_created"] == 2
    assert counts["llm_rejected_requests"] == 6
    assert "base_models_converted" not in counts  # no local generator configured: not needed
    for kind in ("instruct", "preference"):
        assert len(store.versions(settings_env, kind)) == 1

    second = run_pipeline("end_to_end_data", config, no_cache=False)
    assert second["status"] == "completed"
    counts = second["counts"]
    assert counts["records_inserted"] == 0 and counts["records_unchanged"] == 7
    assert counts["documents_processed"] == 0 and counts["documents_skipped"] == 5
    assert counts["datasets_created"] == 0
    for kind in ("instruct", "preference"):
        assert len(store.versions(settings_env, kind)) == 1


def test_stage_config_errors_name_the_file(tmp_path):
    from llm_twin.domain.exceptions import InvalidInput
    from pipelines.configs import load_parameters

    with pytest.raises(InvalidInput, match="not found"):
        load_parameters(str(tmp_path / "missing.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("parameters: [unclosed")
    with pytest.raises(InvalidInput, match=r"broken\.yaml.*not valid YAML"):
        load_parameters(str(broken))
    empty = tmp_path / "empty.yaml"
    empty.write_text("steps: {}\n")
    with pytest.raises(InvalidInput, match="no 'parameters:' mapping"):
        load_parameters(str(empty))
