"""The one prompt format of the twin, shared by serving, training and evaluation.

Both build the conversation with :func:`build_messages` and render it with the model's own chat
template (:func:`render_prompt`), so the fine-tuned model sees at inference exactly the format it
was trained on. Training examples without retrieved context pass ``context=""``.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: The twin's system prompt.
SYSTEM_PROMPT = (
    "You are the digital twin of the author of the passages you are given. Answer in the "
    "author's voice: first person, their style and vocabulary. Base the answer on the context "
    "passages, cite them by their number like [1], and say so plainly when the context does not "
    "contain the answer. Be concise."
)

#: How retrieved context and the question form the user turn.
USER_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}"

#: How a client's own system prompt (an OpenAI client's system message, ``/write``'s
#: ``instructions``) joins the twin's: appended after it, so it adds to the twin's rules and
#: never replaces them.
CLIENT_INSTRUCTIONS = (
    "\n\nThe application you serve adds these instructions (follow them unless they contradict "
    "the rules above):\n{instructions}"
)

#: The twin's system prompt in write mode: drafting new content in the author's voice.
WRITE_SYSTEM_PROMPT = (
    "You are the digital twin of the author of the passages you are given. Write new content in "
    "the author's voice: first person, their style, vocabulary and opinions. The passages are "
    "your material and show how the author writes: draw on their facts and ideas, do not copy "
    "them word for word, and do not invent claims they do not support."
)

#: How the material, the topic and the format's conventions form write mode's user turn.
WRITE_TEMPLATE = (
    "Material from my own writing:\n{context}\n\n"
    "Write {label} about: {topic}\n"
    "Conventions: {conventions}\n"
    "Length: about {words} words."
)


@dataclass(frozen=True)
class WritingFormat:
    """A kind of draft write mode produces.

    Attributes:
        name: Its id in requests (``linkedin_post``...).
        label: How the prompt names it ("a LinkedIn post").
        conventions: The format's conventions, told to the model.
        words: Target words for each length (``short``, ``medium``, ``long``).
    """

    name: str
    label: str
    conventions: str
    words: Mapping[str, int]


#: The formats of write mode, by name.
WRITING_FORMATS: dict[str, WritingFormat] = {
    "linkedin_post": WritingFormat(
        "linkedin_post",
        "a LinkedIn post",
        "open with a one-line hook; short paragraphs of one or two sentences separated by blank "
        "lines; one concrete takeaway from my experience; end with a question to the reader, "
        "then a last line of 3 to 5 hashtags.",
        {"short": 80, "medium": 160, "long": 280},
    ),
    "article_section": WritingFormat(
        "article_section",
        "a section of a blog article",
        "start with a Markdown heading (## Title); then well-developed paragraphs that explain "
        "the idea, give a concrete example or code-level detail, and end with a sentence leading "
        "to the next section.",
        {"short": 150, "medium": 300, "long": 600},
    ),
    "thread": WritingFormat(
        "thread",
        "a thread of short posts (X/Twitter)",
        "numbered posts written as 1/, 2/, 3/... each under 280 characters and on its own "
        "line; the first is a hook, the last sums up and invites readers to follow.",
        {"short": 80, "medium": 160, "long": 300},
    ),
    "newsletter": WritingFormat(
        "newsletter",
        "a newsletter issue",
        "a first line 'Subject: ...'; a friendly greeting; a short intro; two or three sections "
        "with headings; a sign-off with my name.",
        {"short": 150, "medium": 300, "long": 550},
    ),
}


def format_user_message(question: str, context: str = "") -> str:
    """The user turn: the question, preceded by the retrieved context when there is some.

    Args:
        question: The user's question or instruction.
        context: Numbered passages and their sources (see ``rag.to_context``); empty for none.
    """
    question = question.strip()
    if not context.strip():
        return question
    return USER_TEMPLATE.format(context=context.strip(), question=question)


def build_messages(
    question: str,
    context: str = "",
    history: Sequence[Mapping[str, str]] = (),
    system_prompt: str = SYSTEM_PROMPT,
) -> list[dict[str, str]]:
    """The chat messages for one answer.

    Args:
        question: The latest user message.
        context: Retrieved context for it (empty: none).
        history: Earlier ``{"role", "content"}`` turns (user/assistant), oldest first; any system
            messages in it are dropped (the twin's system prompt is always the one used).
        system_prompt: The system prompt (default :data:`SYSTEM_PROMPT`).
    """
    messages = [{"role": "system", "content": system_prompt}]
    for turn in history:
        if turn.get("role") in ("user", "assistant") and str(turn.get("content", "")).strip():
            messages.append({"role": str(turn["role"]), "content": str(turn["content"])})
    messages.append({"role": "user", "content": format_user_message(question, context)})
    return messages


def with_instructions(system_prompt: str, instructions: str | None) -> str:
    """``system_prompt`` followed by a client's own instructions (:data:`CLIENT_INSTRUCTIONS`).

    Args:
        system_prompt: The twin's system prompt (always first: it keeps the guardrails).
        instructions: The client's system prompt; ``None`` or blank: none.
    """
    if not instructions or not instructions.strip():
        return system_prompt
    return system_prompt + CLIENT_INSTRUCTIONS.format(instructions=instructions.strip())


def build_write_messages(
    topic: str,
    context: str,
    writing_format: WritingFormat,
    words: int,
    instructions: str | None = None,
) -> list[dict[str, str]]:
    """The chat messages of a write-mode draft.

    Args:
        topic: What to write about.
        context: The author's related passages (see ``rag.to_context``), material and style
            examples at once.
        writing_format: The kind of draft.
        words: Target length in words.
        instructions: The client's own system prompt, appended to the twin's (or ``None``).
    """
    user = WRITE_TEMPLATE.format(
        context=context.strip() or "(none)",
        label=writing_format.label,
        topic=topic.strip(),
        conventions=writing_format.conventions,
        words=words,
    )
    return [
        {"role": "system", "content": with_instructions(WRITE_SYSTEM_PROMPT, instructions)},
        {"role": "user", "content": user},
    ]


def render_prompt(
    tokenizer: "PreTrainedTokenizerBase", messages: Sequence[Mapping[str, str]]
) -> str:
    """The prompt text for ``messages`` in the model's chat template, ready for generation.

    Args:
        tokenizer: A Hugging Face tokenizer with a ``chat_template``.
        messages: Output of :func:`build_messages`.
    """
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


#: ChatML chat template (SmolLM2's format) with ``{% generation %}`` markers around each assistant
#: turn, its ``<|im_end|>`` included, so TRL's ``assistant_only_loss`` trains on the answers (and
#: on stopping) only. SmolLM2's own template lacks the markers and TRL rejects it for that.
#: Training sets it on the tokenizer and the registry saves that tokenizer, so inference renders
#: prompts with exactly this template (the markers render as nothing). Unlike SmolLM2's template
#: it adds no default system prompt: :func:`build_messages` always supplies the twin's.
TRAINING_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
