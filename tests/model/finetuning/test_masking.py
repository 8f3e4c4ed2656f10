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
