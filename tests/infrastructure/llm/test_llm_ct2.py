"""The CTranslate2 engine with the tiny model converted in a fixture: real streaming, stop on
close, token counts, the same greedy tokens as transformers, engine selection."""

import gc
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

from llm_twin.domain.prompts import build_messages, render_prompt
from llm_twin.infrastructure.llm import GenerationParams, LLMUnavailable
from llm_twin.infrastructure.llm.ct2 import CTranslate2Backend
from llm_twin.infrastructure.llm.exports import (
    EXPORT_MARKER,
    convert_to_ct2,
    ct2_export_dir,
    frozen_gc,
    has_ct2_export,
)
from llm_twin.infrastructure.llm.factory import (
    LocalModel,
    engine_for,
    local_engine_backend,
)
from llm_twin.settings import Settings

QUESTION = build_messages("What is GPTQ?", "[1] GPTQ — Maxime\nGPTQ quantizes weights.")


@pytest.fixture(scope="module")
def exports(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model converted twice: float32 (exact parity) and int8 (the default)."""
    root = tmp_path_factory.mktemp("ct2")
    return {
        "float32": convert_to_ct2(tiny_model_dir, root / "f32", quantization="float32"),
        "int8": convert_to_ct2(tiny_model_dir, root / "int8"),
    }


@pytest.fixture(scope="module")
def ct2(exports: dict[str, Path]):
    backend = CTranslate2Backend(exports["float32"], timeout=30.0, model_id="tiny-ct2", threads=1)
    backend.load()
    yield backend
    backend.close()


def test_export_is_self_contained_and_marked(exports: dict[str, Path], tiny_model_dir: Path):
    for export in exports.values():
        assert (export / EXPORT_MARKER).is_file() and (export / "model.bin").is_file()
        assert (export / "tokenizer.json").is_file()
        assert not export.with_name(export.name + ".partial").exists()
    assert ct2_export_dir(tiny_model_dir).name == tiny_model_dir.name + "-ct2-int8"
    assert not has_ct2_export(tiny_model_dir)


def test_conversion_runs_with_the_existing_objects_frozen(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The converter's per-layer gc.collect() must not walk the process's objects (17.6 s of an
    # 18 s export in a pipeline process); afterwards every object is collectable again.
    from ctranslate2.converters import TransformersConverter

    frozen_during: list[int] = []
    convert = TransformersConverter.convert

    def recording(self, *args, **kwargs):
        frozen_during.append(gc.get_freeze_count())
        return convert(self, *args, **kwargs)

    monkeypatch.setattr(TransformersConverter, "convert", recording)
    before = gc.get_freeze_count()
    convert_to_ct2(tiny_model_dir, tmp_path / "export")
    assert frozen_during and frozen_during[0] > 0
    # Unfrozen again afterwards (a freeze made before it is the caller's and stays).
    assert (gc.get_freeze_count() == 0) if before == 0 else (gc.get_freeze_count() > 0)


def test_frozen_gc_keeps_a_callers_freeze():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with frozen_gc():
            pass
        # Still frozen (unfreezing empties the permanent generation); a frozen object that died
        # meanwhile may have left it, so the count is not compared exactly.
        assert gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()


def test_streams_several_deltas_with_counts(ct2: CTranslate2Backend):
    params = GenerationParams(max_new_tokens=24, temperature=0.0)
    stream = ct2.stream(QUESTION, params)
    deltas = list(stream)
    assert len(deltas) >= 2, "tokens must arrive one by one, not as one block"
    assert all(isinstance(delta, str) and delta for delta in deltas)
    assert stream.completion_tokens == 24 and stream.finish_reason == "length"
    assert stream.prompt_tokens == ct2.count_tokens(render_prompt(ct2.tokenizer, QUESTION))
    assert stream.backend == "local" and stream.model == "tiny-ct2"


def test_close_stops_generation_and_frees_the_slot(ct2: CTranslate2Backend):
    stream = ct2.stream(QUESTION, GenerationParams(max_new_tokens=1500, temperature=0.0))
    started = time.perf_counter()
    next(iter(stream))
    stream.close()  # the client went away: nobody iterates any more
    assert stream.completion_tokens < 1500
    # The slot (max_concurrent=1) is free again: a second answer starts at once.
    second = ct2.complete(QUESTION, GenerationParams(max_new_tokens=4, temperature=0.0))
    assert second.completion_tokens == 4
    assert time.perf_counter() - started < 20


def test_close_from_another_thread_stops_a_running_consumer(ct2: CTranslate2Backend):
    stream = ct2.stream(QUESTION, GenerationParams(max_new_tokens=1500, temperature=0.0))
    received: list[str] = []

    def consume() -> None:
        received.extend(stream)

    worker = threading.Thread(target=consume)
    worker.start()
    while not received and worker.is_alive():
        time.sleep(0.01)
    stream.close()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert 0 < stream.completion_tokens < 1500


def test_same_greedy_tokens_as_transformers(ct2: CTranslate2Backend, tiny_backend):
    """HF → CT2 float32 → exactly the transformers answer (greedy, no repetition penalty)."""
    params = GenerationParams(max_new_tokens=16, temperature=0.0, repetition_penalty=1.0)
    expected = tiny_backend.complete(QUESTION, params)
    streamed = ct2.complete(QUESTION, params)
    batched = ct2.generate_batch([QUESTION, build_messages("hi")], params, batch_size=2)
    assert streamed.text == expected.text and streamed.text
    assert batched[0].text == expected.text
    assert batched[0].completion_tokens == 16 and batched[0].finish_reason == "length"
    assert batched[1].prompt_tokens < batched[0].prompt_tokens


def test_top_k_reaches_both_engines(ct2: CTranslate2Backend, tiny_backend):
    """Sampling at a high temperature among the top 1 token is greedy decoding, in both engines
    (top_k was dropped before: CTranslate2 sampled over the whole vocabulary)."""
    greedy = GenerationParams(max_new_tokens=16, temperature=0.0, repetition_penalty=1.0)
    top_1 = GenerationParams(max_new_tokens=16, temperature=1.5, top_k=1, repetition_penalty=1.0)
    expected = tiny_backend.complete(QUESTION, greedy).text
    assert tiny_backend.complete(QUESTION, top_1).text == expected
    assert ct2.complete(QUESTION, top_1).text == expected
    assert ct2.complete(QUESTION, greedy).text == expected


def test_int8_export_answers(exports: dict[str, Path], tiny_backend):
    """int8 rounding flips near-tied tokens, so its greedy text is not transformers' (measured on
    SmolLM2-135M, 3 prompts: float32 export identical to transformers, int8 the same first
    words then diverging); here it must answer in full."""
    backend = CTranslate2Backend(exports["int8"], model_id="tiny-int8", threads=1)
    backend.load()
    params = GenerationParams(max_new_tokens=8, temperature=0.7, top_p=0.9)
    answer = backend.complete(QUESTION, params)
    assert answer.completion_tokens == 8 and answer.text
    backend.close()


def test_missing_export_is_unavailable(tmp_path: Path):
    with pytest.raises(LLMUnavailable, match="export-model"):
        CTranslate2Backend(tmp_path).load()


def test_engine_selection(tiny_model_dir: Path, exports: dict[str, Path], tmp_path: Path):
    assert engine_for(tiny_model_dir) == "transformers"  # no sibling export
    assert engine_for(exports["int8"]) == "ct2"  # an export folder itself
    assert engine_for(tiny_model_dir, "ct2") == "ct2"
    assert engine_for(exports["int8"], "auto", "cuda") == "transformers"
    served = tmp_path / "model"
    served.mkdir()
    convert_to_ct2(tiny_model_dir, ct2_export_dir(served))
    assert engine_for(served) == "ct2"
    settings = Settings(LLM_THREADS=1, LLM_MAX_CONCURRENT=2)
    backend = local_engine_backend(LocalModel(served, "twin-v1"), settings)
    assert isinstance(backend, CTranslate2Backend)
    assert backend.export_dir == ct2_export_dir(served) and backend.max_concurrent == 2
    pinned = local_engine_backend(
        LocalModel(served, "twin-v1"), Settings(LLM_ENGINE="transformers")
    )
    assert pinned.engine == "transformers"
