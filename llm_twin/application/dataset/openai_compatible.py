"""Generator over any OpenAI-compatible chat API (OpenAI, vLLM, Ollama, llama.cpp server).

Requests go through the OpenAI-compatible :class:`~llm_twin.infrastructure.llm.base.LLMBackend`
and its structured-output helper. Extracts are sent in batches (several per request) with JSON
output; the reply is validated with pydantic and a malformed reply (invalid JSON, missing ids,
empty fields) is asked again up to ``retries`` times. Requests run in a thread pool of at most
``concurrency`` workers. Tokens are summed from the API's ``usage`` and priced with the
configured rates.
"""

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from loguru import logger
from pydantic import BaseModel, Field, field_validator

from llm_twin.application.dataset import prompts
from llm_twin.application.dataset.generation import Generated, Generator
from llm_twin.application.dataset.samples import Extract
from llm_twin.infrastructure.llm.base import Completion, GenerationParams, LLMError, Messages
from llm_twin.infrastructure.llm.factory import openai_backend
from llm_twin.infrastructure.llm.judge_endpoint import OPENAI_API_URL
from llm_twin.infrastructure.llm.structured import MalformedReply, complete_json

T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)


class _Item(BaseModel):
    id: int
    instruction: str = Field(min_length=8)
    answer: str | None = None

    @field_validator("instruction", "answer")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if isinstance(value, str) else value


class _Batch(BaseModel):
    items: list[_Item]


class _Verdict(BaseModel):
    better: str = Field(pattern=r"^[ABab]$")
    reason: str = ""


class OpenAICompatibleGenerator(Generator):
    """Instructions (and answers) from an OpenAI-compatible server.

    Args:
        base_url: API base URL (``http://127.0.0.1:8000/v1``); ``None`` means OpenAI's.
        model: Model name to request.
        api_key: API key (never logged); servers that need none accept any string.
        batch_size: Extracts per request.
        concurrency: Requests in flight at once.
        retries: Extra attempts per batch after a malformed reply or a failed request.
        temperature: Sampling temperature.
        max_tokens: Most tokens per reply.
        timeout: Seconds per request.
        price_input_per_million: USD per million prompt tokens (for the cost estimate).
        price_output_per_million: USD per million completion tokens.
        json_mode: Ask for ``response_format={"type": "json_object"}`` (turn off for servers
            that reject it; the reply is validated either way).
    """

    kind = "openai"

    def __init__(
        self,
        base_url: str | None,
        model: str,
        api_key: str = "",
        *,
        batch_size: int = 5,
        concurrency: int = 4,
        retries: int = 2,
        temperature: float = 0.3,
        max_tokens: int = 2048,
        timeout: float = 60.0,
        price_input_per_million: float = 0.0,
        price_output_per_million: float = 0.0,
        json_mode: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.batch_size = max(1, batch_size)
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.prices = (price_input_per_million, price_output_per_million)
        self.json_mode = json_mode
        # The client's own retry covers transport errors; failed batches are retried here.
        self._backend = openai_backend(
            base_url or OPENAI_API_URL, model, api_key, timeout=timeout, retries=1
        )
        self._lock = threading.Lock()
        self._template = prompts.INSTRUCTION_BACKTRANSLATION

    @property
    def name(self) -> str:
        return f"openai:{self.model}:{self._template.key}"

    # -- requests ----------------------------------------------------------------------------
    def _params(self, json_mode: bool, max_tokens: int | None = None) -> GenerationParams:
        return GenerationParams(
            max_new_tokens=max_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=1.0,  # the server's default: only the temperature is configured
            json_mode=json_mode and self.json_mode,
        )

    def _meter(self, completion: Completion) -> None:
        """Count one answered request, its tokens and their price."""
        with self._lock:
            self.usage.requests += 1
            prompt, answered = completion.prompt_tokens, completion.completion_tokens
            self.usage.prompt_tokens += prompt
            self.usage.completion_tokens += answered
            self.usage.cost_usd += (prompt * self.prices[0] + answered * self.prices[1]) / 1e6

    def _text(self, messages: Messages) -> str:
        """A plain-text answer (no JSON mode)."""
        completion = self._backend.complete(messages, self._params(json_mode=False))
        self._meter(completion)
        return completion.text

    def _json(
        self,
        messages: Messages,
        schema: type[Model],
        check: Callable[[Model], Model] | None = None,
        max_tokens: int | None = None,
    ) -> Model:
        """One JSON answer validated as ``schema`` (and by ``check``).

        Raises:
            MalformedReply: the answer is not the requested JSON (retried by the caller).
        """
        problems: list[MalformedReply] = []
        value = complete_json(
            self._backend,
            messages,
            schema,
            params=self._params(json_mode=True, max_tokens=max_tokens),
            check=check,
            on_reply=self._meter,
            on_malformed=lambda _attempt, problem: problems.append(problem),
        )
        if value is None:
            raise problems[-1]
        return value

    def _with_retries(self, attempt: Callable[[], T], what: str) -> T | None:
        for number in range(self.retries + 1):
            try:
                return attempt()
            except LLMError as error:
                # Both are worth another try; the last failure is reported, not raised, so one
                # bad batch does not discard a whole run's paid-for output.
                if number < self.retries:
                    with self._lock:
                        self.usage.retries += 1
                    continue
                logger.warning("{} failed after {} attempts: {}", what, number + 1, error)
        return None

    def _batches(self, items: Sequence[T]) -> list[Sequence[T]]:
        return [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]

    def _run(self, jobs: list[Callable[[], list[Generated]]]) -> list[Generated]:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = [result for batch in pool.map(lambda job: job(), jobs) for result in batch]
        self.usage.seconds += time.perf_counter() - started
        return results

    # -- instructions ------------------------------------------------------------------------
    def _generate(
        self, extracts: Sequence[Extract], template: prompts.PromptTemplate, with_answer: bool
    ) -> list[Generated]:
        self._template = template

        def job(batch: Sequence[Extract]) -> Callable[[], list[Generated]]:
            def run() -> list[Generated]:
                messages = template.messages(
                    passages=prompts.numbered_passages([e.text for e in batch])
                )
                items = self._with_retries(
                    lambda: (
                        self._json(
                            messages, _Batch, lambda reply: _ordered(reply, len(batch), with_answer)
                        ).items
                    ),
                    f"batch of {len(batch)} extracts",
                )
                if items is None:
                    with self._lock:
                        self.usage.failures += len(batch)
                    return [Generated() for _ in batch]
                return [
                    Generated(instruction=item.instruction, answer=item.answer) for item in items
                ]

            return run

        return self._run([job(batch) for batch in self._batches(extracts)])

    def instructions(self, extracts: Sequence[Extract]) -> list[Generated]:
        return self._generate(extracts, prompts.INSTRUCTION_BACKTRANSLATION, with_answer=False)

    def instructions_and_answers(self, extracts: Sequence[Extract]) -> list[Generated]:
        return self._generate(extracts, prompts.INSTRUCTION_AND_ANSWER, with_answer=True)

    # -- answers and judging -----------------------------------------------------------------
    def answers(self, instructions: Sequence[str]) -> list[str | None]:
        def job(instruction: str) -> Callable[[], list[Generated]]:
            def run() -> list[Generated]:
                messages = prompts.GENERIC_ANSWER.messages(instruction=instruction)
                text = self._with_retries(lambda: _non_empty(self._text(messages)), "answer")
                if text is None:
                    with self._lock:
                        self.usage.failures += 1
                return [Generated(answer=text)]

            return run

        return [g.answer for g in self._run([job(i) for i in instructions])]

    def judge(self, instruction: str, answer_a: str, answer_b: str) -> str | None:
        messages = prompts.JUDGE.messages(
            instruction=instruction, answer_a=answer_a, answer_b=answer_b
        )

        verdict = self._with_retries(
            lambda: self._json(messages, _Verdict, max_tokens=200).better, "judge"
        )
        return verdict.upper() if verdict else None

    def close(self) -> None:
        self._backend.close()


def _non_empty(text: str) -> str:
    if not text.strip():
        raise MalformedReply("empty answer")
    return text.strip()


def _ordered(batch: _Batch, expected: int, with_answer: bool) -> _Batch:
    """``batch`` with its items ordered by id 1..``expected``.

    Raises:
        MalformedReply: an id missing, or an item without an answer when one is needed.
    """
    by_id = {item.id: item for item in batch.items}
    missing = [number for number in range(1, expected + 1) if number not in by_id]
    if missing:
        raise MalformedReply(f"reply lacks items {missing}")
    items = [by_id[number] for number in range(1, expected + 1)]
    if with_answer and any(not (item.answer or "").strip() for item in items):
        raise MalformedReply("reply has an item without an answer")
    return _Batch(items=items)
