"""The model holder: a swap sends new requests to the new model at once, requests already
answering finish on the old one, and the old one is freed when the last of them ends."""

import gc

import pytest

from llm_twin.infrastructure.llm.base import GenerationParams
from llm_twin.infrastructure.llm.local import TransformersBackend
from llm_twin.model.holder import ModelHolder

MESSAGES = [{"role": "user", "content": "Which editor do I use?"}]
PARAMS = GenerationParams(max_new_tokens=6, temperature=0.0)


@pytest.fixture
def models(tiny_base_model):
    """Two loaded backends of the tiny model, named as registry versions 1 and 2."""
    loaded = []
    for version in (1, 2):
        backend = TransformersBackend(
            tiny_base_model, timeout=30.0, model_id=f"llm-twin-v{version}"
        )
        backend.load()
        loaded.append(backend)
    yield loaded
    for backend in loaded:
        backend.close()


def test_a_running_stream_finishes_on_the_old_model_which_is_freed_after(models):
    old, new = models
    holder = ModelHolder(old)
    running = holder.stream(MESSAGES, PARAMS)
    running.prime()

    assert holder.swap(new) is old
    # New requests use the new model at once; the old one stays loaded for the running stream.
    assert holder.model_id == "llm-twin-v2"
    assert holder.complete(MESSAGES, PARAMS).model == "llm-twin-v2"
    assert old.model is not None and holder.retired_in_use == 1

    text = "".join(running)
    running.close()
    assert text and running.model == "llm-twin-v1" and running.completion_tokens > 0
    assert old.model is None and holder.retired_in_use == 0
    assert new.model is not None
    holder.close()
    assert new.model is None


def test_an_idle_model_is_freed_at_the_swap_and_a_dropped_stream_frees_its_model(models):
    old, new = models
    holder = ModelHolder(old)
    holder.swap(new)
    assert old.model is None  # nothing was running on it

    dropped = holder.stream(MESSAGES, PARAMS)
    dropped.prime()
    old.load()
    holder.swap(old)
    assert new.model is not None
    # A stream abandoned without close (a failed request) still gives its model back.
    del dropped
    gc.collect()
    assert new.model is None and holder.retired_in_use == 0
    holder.close()
