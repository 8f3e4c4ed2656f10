"""Assistant-only loss, checked on tokens: in the batches SFTTrainer builds, the labels keep
exactly the answer and its end-of-turn token; the system prompt and the question are masked."""

from pathlib import Path

from tests.model.conftest import FACTS, tiny_config


def test_only_the_answer_and_its_end_token_carry_labels(tiny_base_model: Path, tmp_path) -> None:
    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    from llm_twin.model.finetuning.data import sft_example
    from llm_twin.model.finetuning.hardware import load_model, plan_hardware
    from llm_twin.model.finetuning.stage import prepare_tokenizer

    torch.set_num_threads(1)
    config = tiny_config(tiny_base_model)
    plan = plan_hardware(config)
    tokenizer = prepare_tokenizer(tiny_base_model)
    rows = [sft_example({"instruction": q, "answer": a}) for q, a in FACTS[:2]]
    trainer = SFTTrainer(
        model=load_model(tiny_base_model, plan),
        args=config.sft.to_trl(tmp_path, plan.trainer_arguments(config.seed)),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=config.lora.to_peft(),
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    for row, input_ids, labels in zip(rows, batch["input_ids"], batch["labels"], strict=True):
        trained = input_ids[labels != -100]
        answer = row["messages"][-1]["content"]
        assert tokenizer.decode(trained) == answer + "<|im_end|>"
        masked = tokenizer.decode(input_ids[labels == -100])
        assert row["messages"][0]["content"] in masked  # the system prompt: no loss
        assert row["messages"][1]["content"] in masked  # the question: no loss
        assert answer not in masked


def test_training_template_renders_like_the_served_prompt(tiny_base_model: Path) -> None:
    from llm_twin.domain.prompts import build_messages, render_prompt
    from llm_twin.model.finetuning.stage import prepare_tokenizer

    tokenizer = prepare_tokenizer(tiny_base_model)
    messages = build_messages("Where do I live?")
    served = render_prompt(tokenizer, messages)
    trained = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": "In Cluj."}], tokenize=False
    )
    # The training text is the served prompt followed by the answer and its end token.
    assert trained == served + "In Cluj.<|im_end|>\n"
    assert served.endswith("<|im_start|>assistant\n")


def test_examples_whose_prompt_leaves_no_room_for_the_answer_are_left_out(
    tiny_base_model: Path,
) -> None:
    import pytest
    from datasets import Dataset, DatasetDict

    from llm_twin.domain.exceptions import InvalidInput
    from llm_twin.domain.prompts import build_messages, render_prompt
    from llm_twin.model.finetuning.data import MIN_ANSWER_TOKENS, sft_splits
    from llm_twin.model.finetuning.stage import prepare_tokenizer

    tokenizer = prepare_tokenizer(tiny_base_model)
    short = {"instruction": "Where do I live?", "answer": "In Cluj."}
    context = "passage " * 400
    grounded = {"instruction": f"Context:\n{context}\n\nQuestion: Why?", "answer": "x"}
    prompt = render_prompt(tokenizer, build_messages(short["instruction"]))
    tokens = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    max_length = len(tokens) + MIN_ANSWER_TOKENS + 8
    rows = Dataset.from_list([short, grounded, short])
    train, test = sft_splits(
        DatasetDict(train=rows, test=Dataset.from_list([grounded, short])),
        None,
        0,
        tokenizer=tokenizer,
        max_length=max_length,
    )
    assert len(train) == 2 and test is not None and len(test) == 1
    assert all("passage" not in row["messages"][1]["content"] for row in train)
    # Without a tokenizer nothing is filtered (the old behaviour).
    assert len(sft_splits(DatasetDict(train=rows, test=rows), None, 0)[0]) == 3
    with pytest.raises(InvalidInput, match=r"sft\.max_length"):
        sft_splits(
            DatasetDict(train=Dataset.from_list([grounded]), test=Dataset.from_list([])),
            None,
            0,
            tokenizer=tokenizer,
            max_length=max_length,
        )
