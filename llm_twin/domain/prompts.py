"""The one prompt format of the twin, shared by serving, training and evaluation.

Both build the conversation with :func:`build_messages` and render it with the model's own chat
template (:func:`render_prompt`), so the fine-tuned model sees at inference exactly the format it
was trained on. Training examples without retrieved context pass ``context=""``.
"""

from collections.abc import Mapping, Sequence
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
