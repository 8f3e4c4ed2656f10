"""Conversations: the standalone query a follow-up is searched with, and the history budget.

Retrieval reads one text, but "and does it need calibration data?" means nothing alone. The
offline builder (:func:`standalone_query`) resolves a follow-up (a pronoun, an ellipsis, a
question too short to stand alone) to the subject of the earlier user turns it continues: the
authors they name and their content words, carried along a chain of follow-ups, so a third
turn still finds what the first one was about. With an LLM configured, :class:`QueryRewriter`
asks it for the rewrite instead and falls back to the offline builder when it fails.

:func:`recent_turns` trims the history to a token budget that keeps the newest turns; the
system prompt is never part of it (the prompt builders always put it first).
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger
from pydantic import BaseModel, field_validator

from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, LLMError
from llm_twin.infrastructure.llm.structured import complete_json

if TYPE_CHECKING:
    from llm_twin.application.rag.self_query import AuthorDirectory
    from llm_twin.settings import Settings

Turn = Mapping[str, str]
TokenCounter = Callable[[str], int]

_WORD = re.compile(r"[^\W_][\w'.+-]*[^\W_]|[^\W_]", re.UNICODE)
#: Words that point back to something said before.
_ANAPHORA = (
    "it its itself this these those they them their theirs he him his she her hers "
    "there former latter same above aforementioned"
)
ANAPHORA = frozenset(_ANAPHORA.split())
#: Openings of an elliptical follow-up ("and for posts?", "what about AWQ?").
_CONTINUATIONS = re.compile(
    r"^\s*(?:and|also|but|so|then|ok(?:ay)?|what about|how about|tell me more|go on|"
    r"which one)\b",
    re.IGNORECASE,
)
#: Function words and question words: not a subject.
_STOP_WORDS = """a an the and or but if then so of to in on at by for with from into about as
over under between through during before after again further once than too very can could will
would should shall may might must do does did doing done is are was were be been being have has
had having i me my mine myself we us our ours you your yours what which who whom whose when where
why how all any both each few more most other some such no nor not only own just also that than
up down out off here now ever tell explain describe show give say said says know think please
write wrote written talk talked mean means use used uses using get got make made one ones thing
things way something anything someone somebody people much many lot lots really else like ok
okay yes thanks thank"""
STOP_WORDS = ANAPHORA | frozenset(_STOP_WORDS.split())
#: Subject words carried into a standalone query (the newest first).
MAX_CARRIED_WORDS = 10


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _key(word: str) -> str:
    return word.lower().removesuffix("'s")


def content_words(text: str) -> list[str]:
    """The words of ``text`` that can carry a subject (no function words), in order, once."""
    seen: set[str] = set()
    words = []
    for word in _words(text):
        key = _key(word)
        if key in STOP_WORDS or key in seen or key.isdigit():
            continue
        seen.add(key)
        words.append(word.removesuffix("'s"))
    return words


def follow_up_kind(text: str) -> str | None:
    """How ``text`` depends on what was said before: ``refers`` (a pronoun such as ``it`` or
    ``his``, or no subject of its own: "why?"), ``continues`` (an ellipsis naming a new
    subject: "and what about AWQ?"), or ``None`` (it stands alone)."""
    if any(_key(word) in ANAPHORA for word in _words(text)) or not content_words(text):
        return "refers"
    if _CONTINUATIONS.match(text):
        return "continues"
    return None


def is_follow_up(text: str) -> bool:
    """Whether ``text`` only makes sense after what was said before."""
    return follow_up_kind(text) is not None


def _is_name(word: str) -> bool:
    """A name or term rather than a plain word: capitals or digits (GPTQ, Llama, 4-bit)."""
    return any(c.isupper() or c.isdigit() for c in word[1:]) or word[:1].isupper()


@dataclass(frozen=True)
class Subject:
    """What a turn is about.

    Attributes:
        authors: Full names of the known authors named (or carried).
        names: Names and terms (GPTQ, Llama 3): what an ellipsis replaces.
        words: The other content words (the question's predicate: "quantize weights").
    """

    authors: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    def terms(self) -> list[str]:
        return [*self.names, *self.words]


def _subject(text: str, directory: "AuthorDirectory | None") -> Subject:
    """The authors ``text`` names, its names and terms, and its other content words."""
    words = content_words(text)
    authors: tuple[str, ...] = ()
    if directory is not None:
        from llm_twin.application.rag.self_query import normalise

        matched, positions = directory.match_tokens([normalise(word) for word in words])
        authors = tuple(author.full_name for author in matched)
        words = [word for i, word in enumerate(words) if i not in positions]
    names = tuple(word for word in words if _is_name(word))
    return Subject(authors, names, tuple(word for word in words if not _is_name(word)))


def _limited(words: Sequence[str], taken: set[str]) -> tuple[str, ...]:
    kept = []
    for word in words:
        if word.lower() not in taken:
            taken.add(word.lower())
            kept.append(word)
    return tuple(kept)


def _resolve(own: Subject, earlier: Subject, kind: str | None) -> Subject:
    """A turn's subject in context: its own when it stands alone; with the earlier subject's
    (authors only when it names none) when it refers back; with the earlier plain words (the
    predicate) when it continues with a new subject."""
    if kind is None:
        return own
    taken = {word.lower() for word in own.terms()}
    names = own.names + (_limited(earlier.names, taken) if kind == "refers" else ())
    words = own.words + _limited(earlier.words, taken)
    budget = MAX_CARRIED_WORDS
    names = names[:budget]
    return Subject(own.authors or earlier.authors, names, words[: max(budget - len(names), 0)])


def standalone_query(
    question: str,
    history: Sequence[Turn],
    directory: "AuthorDirectory | None" = None,
    *,
    max_turns: int = 6,
) -> str:
    """The text retrieval should search for ``question`` asked after ``history`` (offline).

    A question that stands alone is returned unchanged. A follow-up gets the subject of the
    earlier user turns appended: the authors named (so self-query filters on them), names
    and terms (when it refers back with a pronoun) and the other content words, resolved along
    the chain of follow-ups (turn 3 can continue turn 2, which continued turn 1).

    Args:
        question: The latest user message.
        history: Earlier ``{"role", "content"}`` turns, oldest first (only user turns count).
        directory: Known authors (names recognised as entities); ``None``: words only.
        max_turns: Earlier user turns considered (the newest).
    """
    users = [str(t.get("content", "")) for t in history if t.get("role") == "user"]
    kind = follow_up_kind(question)
    if not users or kind is None:
        return question
    subject = Subject()
    for text in users[-max_turns:]:
        subject = _resolve(_subject(text, directory), subject, follow_up_kind(text))
    own = _subject(question, directory)
    resolved = _resolve(own, subject, kind)
    asked = {word.lower() for word in own.terms()}
    extra = [name for name in resolved.authors if name not in own.authors]
    extra += [word for word in resolved.terms() if word.lower() not in asked]
    return f"{question.strip()} {' '.join(extra)}".strip() if extra else question


_REWRITE_SYSTEM = (
    "You turn the last user message of a conversation into a standalone search query for the "
    "author's articles: resolve pronouns and ellipses from the earlier turns, keep names and "
    "technical terms, add nothing else. Answer with one JSON object and nothing else: "
    '{"query": "<the standalone query>"}.'
)
#: Greedy and short: the answer is one small JSON object.
_REWRITE_PARAMS = GenerationParams(max_new_tokens=96, temperature=0.0, top_p=1.0, json_mode=True)


class _Rewrite(BaseModel):
    query: str

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty")
        return value.strip()


def _transcript(question: str, history: Sequence[Turn], max_turns: int) -> str:
    turns = [t for t in history if t.get("role") in ("user", "assistant")][-max_turns:]
    lines = [f"{t['role']}: {str(t.get('content', '')).strip()[:600]}" for t in turns]
    return "\n".join([*lines, f"user (last message): {question.strip()}"])


class QueryRewriter:
    """Builds the standalone query of a conversation's last message.

    Args:
        llm: The LLM that rewrites (``None``: the offline builder only).
        max_turns: Earlier turns considered.
    """

    def __init__(self, llm: LLMBackend | None = None, *, max_turns: int = 6) -> None:
        self.llm = llm
        self.max_turns = max_turns

    @classmethod
    def from_settings(cls, settings: "Settings") -> "QueryRewriter | None":
        """The rewriter ``RAG_QUERY_REWRITE`` asks for (``None`` for ``off``).

        Raises:
            ImproperlyConfigured: ``llm`` without an OpenAI-compatible server configured.
        """
        from llm_twin.infrastructure.llm.factory import openai_backend_from_settings

        mode = settings.rag.query_rewrite
        configured = bool(settings.llm.openai_base_url or settings.llm.openai_api_key)
        if mode == "off":
            return None
        if mode == "llm" or (mode == "auto" and configured):
            llm = openai_backend_from_settings(
                settings,
                timeout=settings.rag.llm_timeout,
                retries=1,
                missing="RAG_QUERY_REWRITE=llm needs OPENAI_BASE_URL (or OPENAI_API_KEY)",
            )
            return cls(llm)
        return cls()

    def rewrite(
        self,
        question: str,
        history: Sequence[Turn],
        directory: "AuthorDirectory | None" = None,
    ) -> tuple[str, str]:
        """The standalone query of ``question`` and how it was built (``none``: no earlier
        user turn; ``rules``; ``llm``).

        Args:
            question: The latest user message.
            history: Earlier turns, oldest first.
            directory: Known authors (for the offline builder).
        """
        if not any(t.get("role") == "user" for t in history):
            return question, "none"
        if self.llm is not None:
            try:
                answer = complete_json(
                    self.llm,
                    [
                        {"role": "system", "content": _REWRITE_SYSTEM},
                        {"role": "user", "content": _transcript(question, history, self.max_turns)},
                    ],
                    _Rewrite,
                    params=_REWRITE_PARAMS,
                )
            except LLMError as error:
                logger.warning("query rewrite by the LLM failed, using the rules: {}", error)
                answer = None
            if answer is not None:
                return answer.query, "llm"
        return standalone_query(question, history, directory, max_turns=self.max_turns), "rules"


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate: about four characters per token (English BPE)."""
    return (len(text) + 3) // 4


def token_counter(llm: object) -> TokenCounter:
    """The served model's own token count when it has one (the local engines; the first
    backend of a fallback chain), else :func:`estimate_tokens`.

    Args:
        llm: The LLM backend (or ``None``).
    """
    backends = getattr(llm, "backends", None) or [llm]
    count = getattr(backends[0], "count_tokens", None)
    if not callable(count):
        return estimate_tokens

    def counted(text: str) -> int:
        try:
            return int(count(text))
        except LLMError:  # not loaded (yet): the estimate is good enough for a budget
            return estimate_tokens(text)

    return counted


def recent_turns(
    history: Sequence[Turn], max_tokens: int, count: TokenCounter = estimate_tokens
) -> list[Turn]:
    """The newest turns of ``history`` whose contents fit in ``max_tokens`` (oldest first): the
    budget that keeps a long conversation from pushing the system prompt and the question out
    of the model's context (the local engines cut prompts from the start). When even the
    newest turn is over budget, its end is kept, cut to fit.

    Args:
        history: Earlier turns, oldest first.
        max_tokens: Most tokens of turn contents kept (0: none).
        count: Counts the tokens of a text.
    """
    if max_tokens <= 0:
        return []
    kept: list[Turn] = []
    used = 0
    for turn in reversed(history):
        used += count(str(turn.get("content", "")))
        if used > max_tokens:
            break
        kept.append(turn)
    if not kept and history:
        newest = history[-1]
        content = str(newest.get("content", ""))
        keep = int(len(content) * max_tokens / max(count(content), 1)) - 1
        kept.append({**newest, "content": "…" + content[len(content) - max(keep, 0) :]})
    return kept[::-1]
