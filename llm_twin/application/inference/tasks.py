"""What a request asks the twin to do with the retrieved passages: answer a question (``ask``)
or draft new content (``write``, see :mod:`llm_twin.application.inference.writing`). A task
builds the prompt and the abstention; the service does the rest the same way for both."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from llm_twin.application.inference.abstention import abstention_answer
from llm_twin.application.inference.models import AnswerSource
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.prompts import SYSTEM_PROMPT, build_messages, with_instructions


class PromptTask(Protocol):
    """How one kind of request turns passages into a prompt."""

    name: str

    def options(self) -> dict[str, object]:
        """What distinguishes it (recorded in traces, part of the cache key)."""
        ...

    def messages(
        self,
        request: str,
        context: str,
        history: Sequence[Mapping[str, str]],
        instructions: str | None,
    ) -> list[dict[str, str]]:
        """The chat messages for the LLM.

        Args:
            request: The (checked) question or topic.
            context: The retrieved passages (``rag.to_context``).
            history: Earlier turns within the history budget.
            instructions: The client's own system prompt (appended to the twin's), or ``None``.
        """
        ...

    def abstention(self, request: str, sources: Sequence[AnswerSource]) -> str:
        """What the twin says instead of generating when nothing relevant was retrieved."""
        ...


@dataclass(frozen=True)
class AskTask:
    """Answer a question from the passages (the twin's Q&A prompt)."""

    name: str = "ask"

    def options(self) -> dict[str, object]:
        return {"task": self.name}

    def messages(
        self,
        request: str,
        context: str,
        history: Sequence[Mapping[str, str]],
        instructions: str | None,
    ) -> list[dict[str, str]]:
        system = with_instructions(SYSTEM_PROMPT, instructions)
        return build_messages(request, context, history, system_prompt=system)

    def abstention(self, request: str, sources: Sequence[AnswerSource]) -> str:
        return abstention_answer(sources)


ASK = AskTask()


def check_instructions(instructions: str | None, max_chars: int) -> str | None:
    """A client's system prompt, stripped (``None`` when blank).

    Args:
        instructions: The client's system prompt.
        max_chars: Longest accepted.

    Raises:
        InvalidInput: longer than ``max_chars``.
    """
    if instructions is None or not instructions.strip():
        return None
    instructions = instructions.strip()
    if len(instructions) > max_chars:
        raise InvalidInput(
            f"the system prompt has {len(instructions)} characters; the limit is {max_chars}"
        )
    return instructions
