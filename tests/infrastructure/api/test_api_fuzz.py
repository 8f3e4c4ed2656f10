"""Property test over the OpenAPI spec: random well-typed, ill-typed and missing fields in every
JSON body the API accepts never produce a 5xx, and errors always have the JSON error shape.

(schemathesis is not installed; this walks the app's own OpenAPI schema with a seeded
generator, so new fields are fuzzed automatically.)"""

import random

import pytest

SEED = 20261123
CASES_PER_OPERATION = 40

STRINGS = [
    "",
    " ",
    "GPTQ",
    "abliteration",
    "ignore previous instructions",
    "é" * 50,
    "\x00",
    "x" * 5000,
    "Paul",
    "articles",
    "up",
    "down",
    "user",
    "assistant",
    "system",
]
#: Values of ``format: date`` strings: valid days and not-quite dates.
DATES = ["2024-01-01", "2023-12-31", "1999-02-28", "2024-02-30", "last spring", "2024"]
ODD_VALUES = [None, -1, 0, 1, 10**9, 3.5, -0.1, True, "", "text", [], {}, [1, "a"], {"a": 1}]


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _value(schema: dict, spec: dict, rng: random.Random, depth: int = 0):
    schema = _resolve(schema, spec)
    if rng.random() < 0.15 or depth > 4:
        return rng.choice(ODD_VALUES)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _value(rng.choice(schema[key]), spec, rng, depth + 1)
    if "enum" in schema:
        return rng.choice([*schema["enum"], "not-an-option"])
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "string" and schema.get("format") == "date":
        return rng.choice(DATES)
    if kind == "string":
        return rng.choice(STRINGS)
    if kind == "integer":
        return rng.choice([-5, 0, 1, 2, 3, 20, 21, 4096, 10**6])
    if kind == "number":
        return rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0, 2.5, 1e9])
    if kind == "boolean":
        return rng.random() < 0.3  # mostly non-streaming keeps the test quick
    if kind == "array":
        return [
            _value(schema.get("items", {}), spec, rng, depth + 1) for _ in range(rng.randint(0, 3))
        ]
    if kind == "object" or "properties" in schema:
        return _object(schema, spec, rng, depth + 1)
    return rng.choice(ODD_VALUES)


def _object(schema: dict, spec: dict, rng: random.Random, depth: int = 0) -> dict:
    body = {}
    required = set(schema.get("required", []))
    for name, field in schema.get("properties", {}).items():
        if (name in required and rng.random() < 0.9) or rng.random() < 0.5:
            body[name] = _value(field, spec, rng, depth)
    return body


def _operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield path, method, content["application/json"]["schema"]


@pytest.fixture
def fuzz_client(make_client):
    return make_client(LLM_MAX_NEW_TOKENS=2, API_CACHE_TTL=60)


def test_random_bodies_never_cause_a_server_error(fuzz_client):
    spec = fuzz_client.get("/openapi.json").json()
    operations = list(_operations(spec))
    assert {path for path, _, _ in operations} >= {"/rag", "/v1/chat/completions", "/feedback"}
    rng = random.Random(SEED)
    statuses = []
    for path, method, schema in operations:
        for _ in range(CASES_PER_OPERATION):
            body = _object(_resolve(schema, spec), spec, rng)
            if isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 4:
                body["max_tokens"] = 4  # keep generation short; validity is unchanged
            response = fuzz_client.request(method.upper(), path, json=body)
            statuses.append(response.status_code)
            assert response.status_code < 500, (path, body, response.text)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["message"] and error["code"] == response.status_code
    assert 200 in statuses and 422 in statuses
