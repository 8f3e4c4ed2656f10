"""Write mode: formats, lengths and the structure every draft is given (issue 20)."""

import pytest
from draft_structure import structure_problems

from llm_twin.application.inference.writing import DraftTask, shape_draft
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.prompts import WRITE_SYSTEM_PROMPT, WRITING_FORMATS

RAMBLING = (
    "Quantization makes models small. I have used GPTQ for months and it works well on "
    "consumer GPUs. " * 12
)


@pytest.mark.parametrize("format_name", list(WRITING_FORMATS))
def test_every_format_gets_its_structure_and_shaping_is_idempotent(format_name):
    assert structure_problems(format_name, RAMBLING.strip()), "the raw text lacks the structure"
    shaped = shape_draft(format_name, RAMBLING, "4-bit quantization with GPTQ", "Maxime Labonne")
    assert structure_problems(format_name, shaped) == []
    assert shape_draft(format_name, shaped, "4-bit quantization with GPTQ", "Maxime") == shaped


def test_a_well_formed_draft_is_kept():
    post = "Hook line.\n\nI use GPTQ daily.\n\nWhat do you use?\n\n#GPTQ #LLM #Quantization"
    assert shape_draft("linkedin_post", post, "GPTQ") == post
    thread = "1/2 GPTQ makes models small.\n\n2/2 Follow me for more."
    assert shape_draft("thread", thread, "GPTQ") == thread


def test_a_newsletter_signs_off_with_the_authors_first_name():
    shaped = shape_draft("newsletter", "Hello readers.", "GPTQ", "Maxime Labonne")
    assert shaped.startswith("Subject: GPTQ") and shaped.endswith("— Maxime")


def test_draft_task_prompt_names_the_format_conventions_and_length():
    task = DraftTask.of("thread", "short")
    [system, user] = task.messages("GPTQ", "[1] GPTQ — Maxime\nGPTQ text", [], "Be upbeat.")
    assert system["content"].startswith(WRITE_SYSTEM_PROMPT)
    assert system["content"].endswith("Be upbeat.")
    assert WRITING_FORMATS["thread"].conventions in user["content"]
    assert "about 80 words" in user["content"] and "GPTQ text" in user["content"]
    assert task.options() == {"task": "write", "format": "thread", "length": "short"}
    assert task.max_new_tokens(100) == 100 and task.max_new_tokens(4096) == 160


@pytest.mark.parametrize(("name", "length"), [("haiku", "short"), ("thread", "huge")])
def test_unknown_format_or_length_is_invalid_input(name, length):
    with pytest.raises(InvalidInput, match="unknown"):
        DraftTask.of(name, length)


def test_prompt_lines_the_model_copied_never_reach_the_reader():
    # SmolLM2-135M echoed its instructions into a quickstart draft (seen through /write).
    draft = (
        "### Merge your own models\n\nWe'll start by installing mergekit from source.\n\n"
        "Write a LinkedIn post about why I merge models with mergekit\n"
        "Conventions: open with a one-line hook; short paragraphs.\n"
        "Length: about 80 words.\n\n#Merge #Models #Mergekit"
    )
    shaped = shape_draft("linkedin_post", draft, "why I merge models with mergekit")
    assert "Conventions" not in shaped and "Length: about" not in shaped
    assert "Write a LinkedIn post" not in shaped
    assert "installing mergekit from source" in shaped
    assert shaped.endswith("#Merge #Models #Mergekit")
    assert "\n\n\n" not in shaped
    # The author's own sentences that merely start with "Write" stay.
    kept = shape_draft("article_section", "## Tips\n\nWrite tests first.", "testing")
    assert kept == "## Tips\n\nWrite tests first."
