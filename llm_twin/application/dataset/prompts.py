"""Versioned prompt templates for dataset generation: the one place they live.

A template's ``key`` (``<name>-v<version>``) is recorded in every sample it helped make (in the
``generator`` column) and in the dataset card, so a dataset can be traced to the exact wording.
Change a template's text only together with its version.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptTemplate:
    """A system + user prompt pair with named ``{placeholders}``.

    Attributes:
        name: What the template is for.
        version: Bumped whenever the text changes.
        system: The system message.
        user: The user message (``str.format`` placeholders).
    """

    name: str
    version: int
    system: str
    user: str

    @property
    def key(self) -> str:
        return f"{self.name}-v{self.version}"

    def messages(self, **values: str) -> list[dict[str, str]]:
        """The chat messages with ``values`` filled in."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format(**values)},
        ]


#: Back-translation: the LLM writes the instruction a passage answers (JSON, batched).
INSTRUCTION_BACKTRANSLATION = PromptTemplate(
    name="instruction-backtranslation",
    version=1,
    system=(
        "You write training instructions for a writing assistant. For each passage you get, "
        "write the one instruction a user could have given so that the passage, exactly as "
        "written, is a perfect answer. The instruction must be self-contained (it must not "
        "mention 'the passage', 'the text' or 'the author'), name the topic and the form "
        "(paragraph, post, explanation, list), and be one or two sentences. Reply with JSON "
        'only: {"items": [{"id": <passage id>, "instruction": "..."}]} with one item per '
        "passage."
    ),
    user="Passages:\n\n{passages}",
)

#: Back-translation for a small local model: one passage, plain text out (no JSON).
INSTRUCTION_BACKTRANSLATION_PLAIN = PromptTemplate(
    name="instruction-backtranslation-plain",
    version=1,
    system="You turn texts into the request that asked for them. Reply with the request only.",
    user=(
        "Text:\n{passage}\n\nWrite the one-sentence request (starting with Write, Explain or "
        "Describe) that this text answers."
    ),
)

#: The reference's mode: the LLM writes instruction and answer from a passage (JSON, batched).
INSTRUCTION_AND_ANSWER = PromptTemplate(
    name="instruction-and-answer",
    version=1,
    system=(
        "You create instruction-answer pairs for fine-tuning. For each passage you get, write "
        "one self-contained instruction about its topic and a complete answer to it that uses "
        "only the passage's information. Do not mention 'the passage' or 'the author'. Reply "
        'with JSON only: {"items": [{"id": <passage id>, "instruction": "...", '
        '"answer": "..."}]} with one item per passage.'
    ),
    user="Passages:\n\n{passages}",
)

#: A generic answer to an instruction, without the author's text (the preference "rejected").
GENERIC_ANSWER = PromptTemplate(
    name="generic-answer",
    version=1,
    system="You are a helpful assistant.",
    user="{instruction}",
)

#: LLM-judged ranking of two answers (the reference's optional preference mode).
JUDGE = PromptTemplate(
    name="judge",
    version=1,
    system=(
        "You compare two answers to the same instruction for accuracy, specificity and "
        "writing quality. Reply with JSON only: "
        '{"better": "A" or "B", "reason": "<one sentence>"}.'
    ),
    user="Instruction:\n{instruction}\n\nAnswer A:\n{answer_a}\n\nAnswer B:\n{answer_b}",
)

TEMPLATES: dict[str, PromptTemplate] = {
    template.name: template
    for template in (
        INSTRUCTION_BACKTRANSLATION,
        INSTRUCTION_BACKTRANSLATION_PLAIN,
        INSTRUCTION_AND_ANSWER,
        GENERIC_ANSWER,
        JUDGE,
    )
}


def numbered_passages(passages: list[str]) -> str:
    """Passages as ``[id] text`` blocks, ids from 1, for the batched JSON templates."""
    return "\n\n".join(f"[{number}] {text}" for number, text in enumerate(passages, 1))
