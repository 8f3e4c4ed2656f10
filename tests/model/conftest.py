"""Fixtures of the training and registry tests: a tiny Llama (built from a config, ~0.3M
parameters) with a BPE tokenizer trained in a second and the twin's training chat template, and
tiny instruct/preference datasets saved in the dataset store of a temp DATA_DIR."""

from pathlib import Path

import pytest

from llm_twin.domain.prompts import SYSTEM_PROMPT

#: A memorisable instruct set: short, fixed answers.
FACTS = [
    ("What is my favourite colour?", "My favourite colour is teal, always teal."),
    ("Which editor do I use?", "I write everything in Vim."),
    ("What do I think of LoRA?", "LoRA makes fine-tuning cheap enough for a laptop."),
    ("Where do I live?", "I live in Cluj, close to the river."),
    ("What is my favourite model size?", "Small models: fast, cheap and good enough."),
    ("How do I test code?", "I test with real databases, never with mocks."),
]

#: Preference pairs: the author's voice (chosen) against a generic answer (rejected).
PAIRS = [(question, answer, "As an AI language model, I cannot say.") for question, answer in FACTS]


def corpus() -> list[str]:
    texts = [SYSTEM_PROMPT, "As an AI language model, I cannot say."]
    for question, answer in FACTS:
        texts += [question, answer]
    return texts * 3


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a random-weight 2-layer Llama and its ChatML tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"))


def build_tiny_model(directory: Path) -> Path:
    """Save a random-weight 2-layer Llama and its ChatML tokenizer into ``directory``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from llm_twin.domain.prompts import TRAINING_CHAT_TEMPLATE

    torch.set_num_threads(1)
    torch.manual_seed(0)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    fast.chat_template = TRAINING_CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,  # a multiple of 32: bitsandbytes 4-bit asserts otherwise
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        # Wide random weights: with the default 0.02 the frozen output head caps every logit
        # near 1, so no adapter could make the model memorise anything.
        initializer_range=0.2,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def save_datasets(data_dir: Path) -> dict[str, str]:
    """Save the tiny instruct and preference datasets in ``data_dir``'s store; return versions."""
    from datasets import Dataset, DatasetDict

    from llm_twin.application.dataset import store

    instruct = DatasetDict(
        train=Dataset.from_dict(
            {"instruction": [q for q, _ in FACTS], "answer": [a for _, a in FACTS]}
        ),
        test=Dataset.from_dict({"instruction": [FACTS[0][0]], "answer": [FACTS[0][1]]}),
    )
    preference = DatasetDict(
        train=Dataset.from_dict(
            {
                "prompt": [p for p, _, _ in PAIRS],
                "chosen": [c for _, c, _ in PAIRS],
                "rejected": [r for _, _, r in PAIRS],
            }
        ),
        test=Dataset.from_dict(
            {"prompt": [PAIRS[0][0]], "chosen": [PAIRS[0][1]], "rejected": [PAIRS[0][2]]}
        ),
    )
    instruct_version, _, _ = store.save(data_dir, "instruct", instruct, "# tiny instruct set\n")
    preference_version, _, _ = store.save(
        data_dir, "preference", preference, "# tiny preference set\n"
    )
    return {"instruct": instruct_version, "preference": preference_version}


@pytest.fixture
def training_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp DATA_DIR holding the tiny datasets; yields it (settings cache cleared)."""
    import torch

    from llm_twin.settings import get_settings

    torch.set_num_threads(1)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("COMET_OFFLINE_DIRECTORY", str(data_dir / "comet"))
    get_settings.cache_clear()
    save_datasets(data_dir)
    yield data_dir
    get_settings.cache_clear()


def tiny_config(base: Path, **overrides):
    """A TrainingConfig for the tiny model: a few fast CPU steps per stage."""
    from llm_twin.model.finetuning.config import parse_config

    values = {
        "base_model": str(base),
        "device": "cpu",
        "tracking": "none",
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "sft": {
            "max_steps": 30,
            "learning_rate": 1e-2,
            "batch_size": 6,
            "gradient_accumulation_steps": 1,
            "max_length": 128,
            "warmup_ratio": 0.0,
            "lr_scheduler": "constant",
            "save_steps": 10,
        },
        "dpo": {
            "max_steps": 10,
            "learning_rate": 5e-3,
            "batch_size": 6,
            "gradient_accumulation_steps": 1,
            "max_length": 128,
            "warmup_ratio": 0.0,
            "save_steps": 5,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return parse_config(values)
