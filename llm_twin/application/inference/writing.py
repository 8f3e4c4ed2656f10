"""Write mode: drafting new content in the author's voice.

The topic is searched like a question; the author's most related passages become the prompt's
material and style examples (:func:`~llm_twin.domain.prompts.build_write_messages`), with the
format's conventions. :func:`shape_draft` then makes sure the draft has its format's structure
whatever the model wrote (a small local model does not always follow conventions): a heading
for an article section, numbered posts of at most 280 characters for a thread, a subject line
and a sign-off for a newsletter, a hashtag line for a LinkedIn post.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llm_twin.application.inference.abstention import abstention_draft
from llm_twin.application.inference.conversation import content_words
from llm_twin.application.inference.models import Answer, AnswerSource
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.prompts import WRITING_FORMATS, WritingFormat, build_write_messages

#: Draft lengths a request may ask for.
LENGTHS = ("short", "medium", "long")
#: Most characters of one post of a thread.
THREAD_POST_CHARS = 280
#: Tokens generated per target word (English BPE, with room to finish the last sentence).
TOKENS_PER_WORD = 1.6

_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
_NUMBERED = re.compile(r"^\s*\d+\s*(?:/\s*\d+|[/.)])\s*")
_HASHTAG = re.compile(r"#\w+")
_HEADING = re.compile(r"^#{1,3} \S")


def writing_format(name: str) -> WritingFormat:
    """The format called ``name``.

    Raises:
        InvalidInput: unknown format (the message lists the known ones).
    """
    try:
        return WRITING_FORMATS[name]
    except KeyError:
        known = ", ".join(WRITING_FORMATS)
        raise InvalidInput(f"unknown format {name!r} (known formats: {known})") from None


@dataclass(frozen=True)
class DraftTask:
    """Draft ``format`` content of ``length`` on the requested topic.

    Attributes:
        format: The kind of draft.
        length: ``short``, ``medium`` or ``long``.
        name: The task's name (``write``).
    """

    format: WritingFormat
    length: str = "medium"
    name: str = "write"

    def __post_init__(self) -> None:
        if self.length not in LENGTHS:
            raise InvalidInput(f"unknown length {self.length!r} (short, medium or long)")

    @classmethod
    def of(cls, format_name: str, length: str = "medium") -> "DraftTask":
        """The task for a request's ``format`` and ``length``.

        Raises:
            InvalidInput: unknown format or length.
        """
        return cls(writing_format(format_name), length)

    @property
    def words(self) -> int:
        """Target length in words."""
        return self.format.words[self.length]

    def max_new_tokens(self, limit: int) -> int:
        """Tokens to generate for the target length, at most ``limit``."""
        return min(int(self.words * TOKENS_PER_WORD) + 32, limit)

    def options(self) -> dict[str, object]:
        return {"task": self.name, "format": self.format.name, "length": self.length}

    def messages(
        self,
        request: str,
        context: str,
        history: Sequence[Mapping[str, str]],
        instructions: str | None,
    ) -> list[dict[str, str]]:
        return build_write_messages(request, context, self.format, self.words, instructions)

    def abstention(self, request: str, sources: Sequence[AnswerSource]) -> str:
        return abstention_draft(request, sources)


def _title(topic: str) -> str:
    text = " ".join(topic.strip().rstrip(".?!").split())
    return text[:1].upper() + text[1:]


def _hashtags(topic: str, count: int = 3) -> str:
    words = [re.sub(r"\W", "", w) for w in content_words(topic)]
    tags = [f"#{w[:1].upper()}{w[1:]}" for w in words if len(w) > 2][:count]
    padding = [tag for tag in ("#AI", "#Writing") if tag not in tags]
    return " ".join([*tags, *padding][: max(len(tags), 2)])


def _split_post(text: str, room: int) -> list[str]:
    """``text`` as posts of at most ``room`` characters: whole sentences packed in order, a
    sentence too long for one post cut at a space."""
    posts: list[str] = []
    current = ""
    for sentence in _SENTENCE.split(text):
        sentence = sentence.strip()
        while len(sentence) > room:
            cut = sentence.rfind(" ", 0, room)
            cut = cut if cut > 0 else room
            if current:
                posts.append(current)
                current = ""
            posts.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if not sentence:
            continue
        if current and len(current) + 1 + len(sentence) <= room:
            current = f"{current} {sentence}"
        else:
            if current:
                posts.append(current)
            current = sentence
    return [*posts, current] if current else posts


def _thread_posts(text: str) -> list[str]:
    """The draft as posts of at most :data:`THREAD_POST_CHARS` (numbering added after): each
    of the model's lines is a post, split when it is too long."""
    room = THREAD_POST_CHARS - len("99/99 ")
    lines = [_NUMBERED.sub("", line).strip() for line in text.splitlines()]
    return [post for line in lines if line for post in _split_post(line, room)]


#: Beginnings of write mode's prompt lines (``WRITE_TEMPLATE``): a small model sometimes copies
#: them into its draft, where the reader must never see them.
_PROMPT_LINES = ("material from my own writing:", "conventions:", "length: about")


def _without_echoed_prompt(text: str, topic: str) -> str:
    """``text`` without the prompt's own lines that the model copied ("Write a LinkedIn post
    about <topic>", "Conventions: ...", "Length: about N words.")."""
    topic_key = " ".join(topic.lower().split())

    def echoed(line: str) -> bool:
        key = " ".join(line.lower().split())
        if key.startswith(_PROMPT_LINES):
            return True
        return key.startswith("write ") and bool(topic_key) and topic_key in key

    return "\n".join(line for line in text.splitlines() if not echoed(line))


def shape_draft(format_name: str, draft: str, topic: str, author: str | None = None) -> str:
    """``draft`` with the structure of its format (idempotent: a shaped draft is unchanged).

    Args:
        format_name: The draft's format.
        draft: The model's text.
        topic: The requested topic (a missing heading, subject line or hashtags come from it).
        author: The author's name (a newsletter's sign-off).
    """
    text = re.sub(r"\n{3,}", "\n\n", _without_echoed_prompt(draft, topic)).strip()
    if format_name == "article_section":
        if not _HEADING.match(text):
            text = f"## {_title(topic)}\n\n{text}"
    elif format_name == "thread":
        posts = _thread_posts(text) or [_title(topic)]
        text = "\n\n".join(f"{n}/{len(posts)} {post}" for n, post in enumerate(posts, start=1))
    elif format_name == "newsletter":
        if not text.lower().startswith("subject:"):
            text = f"Subject: {_title(topic)}\n\n{text}"
        name = (author or "").split(" ")[0]
        if name and name.lower() not in text[-200:].lower():
            text = f"{text}\n\n— {name}"
    elif format_name == "linkedin_post":
        last = text.splitlines()[-1] if text else ""
        if len(_HASHTAG.findall(last)) < 2:
            text = f"{text}\n\n{_hashtags(topic)}".strip()
    return text


def finish_draft(answer: Answer, task: DraftTask, topic: str, author: str | None = None) -> Answer:
    """The answer with its text shaped as ``task``'s format (:func:`shape_draft`); an
    abstention is returned as it is.

    Args:
        answer: The generated answer.
        task: The draft's task.
        topic: The requested topic.
        author: The author the draft is written as, when no source names one (the best
            source's author is used: the full name, however the request spelled it).
    """
    if answer.abstained or not answer.answer.strip():
        return answer
    author = answer.sources[0].author if answer.sources else author
    draft = shape_draft(task.format.name, answer.answer, topic, author)
    return answer.model_copy(update={"answer": draft})
