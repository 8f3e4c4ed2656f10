"""Hot model reload: a promotion while an answer streams. The stream completes on the version
that started it, the next request (and ``/v1/models``, the traces, ``/metrics``) names the new
one, and the old version is freed, all without a restart."""

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from registry_versions import register_version
from store_service import free_port, service_settings, serving

from llm_twin.application.inference import TraceStore
from llm_twin.model.registry import ModelRegistry, registry_root

QUESTION = "How does abliteration remove refusals?"


def _events(response: httpx.Response) -> Iterator[tuple[str, dict]]:
    """The ``(event, data)`` pairs of a server-sent event stream."""
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


def _served(client: httpx.Client) -> str:
    return client.get("/v1/models").json()["data"][0]["backend_model"]


@pytest.mark.slow
def test_a_promotion_during_a_stream(tmp_path, tiny_model_dir, retriever):
    from llm_twin.infrastructure.api import create_app

    port = free_port()
    settings = service_settings(
        tmp_path / "data",
        port,
        LLM_ENGINE="transformers",
        LLM_MAX_NEW_TOKENS=800,
        LLM_TEMPERATURE=0.0,
        LLM_TIMEOUT=60,
        API_MODEL_RELOAD_SECONDS=0.2,
    )
    registry = ModelRegistry(registry_root(settings), zenml=False)
    for number in (1, 2):
        register_version(registry, tmp_path, f"f{number}", tiny_model_dir)
    registry.promote(1, "production")
    app = create_app(settings, retriever=retriever)  # the model comes from the registry
    with serving(app, port) as url, httpx.Client(base_url=url, timeout=120) as client:
        assert _served(client) == "llm-twin-v1"
        body = {"query": QUESTION, "stream": True}
        with client.stream("POST", "/rag", json=body) as response:
            events = _events(response)
            assert next(events)[0] == "sources"
            assert next(events)[0] == "token"  # generating on version 1
            registry.promote(2, "production")  # what `poe promote-model` does
            deadline = time.monotonic() + 60
            while _served(client) != "llm-twin-v2" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _served(client) == "llm-twin-v2"
            holder = app.state.service.llm
            # The swap happened while this answer was still generating on version 1.
            assert holder.retired_in_use == 1
            rest = list(events)
        kinds = [kind for kind, _ in rest]
        assert "error" not in kinds and kinds[-1] == "done"
        streamed = rest[-1][1]
        assert streamed["model"] == "llm-twin-v1"
        assert streamed["usage"]["completion_tokens"] == 800  # the whole answer, on version 1

        after = client.post("/rag", json={"query": QUESTION}).json()
        assert after["model"] == "llm-twin-v2"
        traces = TraceStore(settings.traces_dir)
        assert traces.get(streamed["trace_id"])["model"] == "llm-twin-v1"
        assert traces.get(after["trace_id"])["model"] == "llm-twin-v2"

        deadline = time.monotonic() + 30
        while holder.retired_in_use and time.monotonic() < deadline:
            time.sleep(0.1)
        assert holder.retired_in_use == 0  # version 1 freed

        metrics = {
            sample.name: sample
            for family in text_string_to_metric_families(client.get("/metrics").text)
            for sample in family.samples
        }
        assert metrics["llm_twin_model_reloads_total"].labels == {"outcome": "loaded"}
        assert metrics["llm_twin_model_reloads_total"].value == 1
        assert metrics["llm_twin_model_info"].labels == {"model_id": "llm-twin-v2"}
        assert metrics["llm_twin_model_version"].value == 2
