"""Structured output: an answer as a validated pydantic model, from any :class:`LLMBackend`.

One helper for every JSON-answering caller (self-query, dataset writers, the judges): JSON mode
when the backend has it, the JSON object cut out of the reply (models wrap it in prose or a
Markdown fence), pydantic validation, and a bounded number of re-asks after a malformed reply.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from llm_twin.infrastructure.llm.base import (
    Completion,
    GenerationParams,
    LLMBackend,
    LLMError,
    Messages,
)

Model = TypeVar("Model", bound=BaseModel)

#: The follow-up message of a re-ask that shows the model its mistake.
REASK = (
    "Your reply was not valid: {problem}. Reply again with only the JSON object in the "
    "requested format, nothing else."
)


class MalformedReply(LLMError):
    """The model's reply is not the requested JSON (the message says what is wrong)."""


def json_object_text(text: str) -> str:
    """The JSON object inside ``text``: from its first ``{`` to its last ``}``.

    Raises:
        MalformedReply: the text holds no ``{ ... }``.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise MalformedReply("reply holds no JSON object")
    return text[start : end + 1]


def parse_json(schema: type[Model], text: str, what: str = "reply") -> Model:
    """``text``'s JSON object validated as ``schema``.

    Args:
        schema: The pydantic model of the expected object.
        text: The model's reply.
        what: How the error message names the reply (``rubric reply``).

    Raises:
        MalformedReply: no JSON object, invalid JSON or a schema violation (the first error).
    """
    try:
        return schema.model_validate_json(json_object_text(text))
    except ValidationError as error:
        raise MalformedReply(f"{what} invalid: {error.errors()[0]['msg']}") from None


def complete_json(
    backend: LLMBackend,
    messages: Messages,
    schema: type[Model],
    *,
    params: GenerationParams,
    retries: int = 0,
    reask: bool = True,
    check: Callable[[Model], Model] | None = None,
    on_reply: Callable[[Completion], None] | None = None,
    on_malformed: Callable[[int, MalformedReply], None] | None = None,
) -> Model | None:
    """The backend's answer to ``messages`` as a ``schema`` object; ``None`` when every one of
    the ``1 + retries`` replies was malformed.

    Args:
        backend: Who answers; JSON mode is asked for when ``params.json_mode`` is set and the
            backend supports it.
        messages: The conversation (system prompt first).
        schema: The pydantic model of the expected JSON object.
        params: How to sample each reply.
        retries: Re-asks after a malformed reply.
        reask: Show the model its malformed reply and what is wrong (:data:`REASK`) when asking
            again; otherwise the same messages are sent again.
        check: Further validation of a parsed object (raises :class:`MalformedReply`); returns
            the object to use.
        on_reply: Called with every completion (request and token accounting).
        on_malformed: Called with the attempt number (0-based) and the error of each malformed
            reply (logging, counting).

    Raises:
        LLMError: the backend failed (transport errors are never retried here: the backend's
            client retries them).
    """
    if params.json_mode and not backend.supports_json_mode:
        params = dataclasses.replace(params, json_mode=False)
    conversation: list[Mapping[str, str]] = list(messages)
    for attempt in range(retries + 1):
        completion = backend.complete(conversation, params)
        if on_reply is not None:
            on_reply(completion)
        try:
            value = parse_json(schema, completion.text)
            return check(value) if check is not None else value
        except MalformedReply as error:
            if on_malformed is not None:
                on_malformed(attempt, error)
            if reask:
                conversation += [
                    {"role": "assistant", "content": completion.text},
                    {"role": "user", "content": REASK.format(problem=_problem(error))},
                ]
    return None


def chat(system: str, user: str) -> Sequence[Mapping[str, str]]:
    """A system + user conversation."""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _problem(error: MalformedReply) -> str:
    """The validation message alone (without the ``reply invalid:`` prefix)."""
    return str(error).split(" invalid: ", 1)[-1]
