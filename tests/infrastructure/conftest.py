"""Fixtures of the LLM and API tests: a tiny Llama model with a ChatML tokenizer, built in a
second from a config and a BPE tokenizer trained on a few sentences."""

from pathlib import Path

import pytest

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

TEXTS = [
    "Abliteration removes the refusal direction from a chat model.",
    "GPTQ quantizes the weights of a large language model to 4 bits.",
    "A streaming pipeline reads change events and writes them to a vector database.",
    "Reranking with a cross-encoder fixes many retrieval problems.",
    "You are the digital twin of the author. Answer in the author's voice. Context Question",
] * 4


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (random weights) and its tokenizer with a chat template, saved to disk.

    The end-of-sequence token is suppressed, so every answer has exactly ``max_new_tokens``.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.set_num_threads(1)
    torch.manual_seed(0)
    special = ["<unk>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(TEXTS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<unk>",
    )
    fast.chat_template = CHATML_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.suppress_tokens = [fast.eos_token_id]
    directory = tmp_path_factory.mktemp("tiny-llm")
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir: Path):
    """The local backend, loaded with the tiny model."""
    from llm_twin.infrastructure.llm.local import TransformersBackend

    backend = TransformersBackend(tiny_model_dir, timeout=30.0, model_id="tiny-llama")
    backend.load()
    yield backend
    backend.close()
