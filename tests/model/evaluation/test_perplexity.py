"""Perplexity: answer tokens only, lower on the text a tiny model was overfit on."""

import pytest

from llm_twin.model.evaluation.perplexity import perplexity, scored_example
from tests.model.conftest import FACTS, build_tiny_model

TRAINED = FACTS[0]
OTHER = ("Which editor do I use?", "Small models: fast, cheap and good enough.")


@pytest.fixture(scope="module")
def overfit(tmp_path_factory: pytest.TempPathFactory):
    """A tiny Llama trained (all weights, 40 steps) on one conversation; (model, tokenizer,
    perplexity of that conversation before training)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    folder = build_tiny_model(tmp_path_factory.mktemp("overfit"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    before = perplexity(model, tokenizer, [TRAINED[0]], [TRAINED[1]])
    ids, start = scored_example(tokenizer, TRAINED[0], TRAINED[1], 512)
    inputs = torch.tensor([ids])
    labels = inputs.clone()
    labels[0, :start] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(40):
        loss = model(input_ids=inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    return model, tokenizer, before


def test_perplexity_is_lower_on_the_training_text(overfit) -> None:
    model, tokenizer, before = overfit
    trained = perplexity(model, tokenizer, [TRAINED[0]], [TRAINED[1]])
    other = perplexity(model, tokenizer, [OTHER[0]], [OTHER[1]])
    assert trained < 2.0 < before  # memorised: nearly every answer token predicted
    assert trained * 5 < other


def test_batching_does_not_change_the_result(overfit) -> None:
    model, tokenizer, _ = overfit
    rows = [TRAINED, OTHER, FACTS[3]]
    one = perplexity(model, tokenizer, [q for q, _ in rows], [a for _, a in rows], batch_size=1)
    three = perplexity(model, tokenizer, [q for q, _ in rows], [a for _, a in rows], batch_size=3)
    assert one == pytest.approx(three, rel=1e-4)


def test_only_answer_tokens_are_scored_and_long_rows_keep_the_answer(overfit) -> None:
    _, tokenizer, _ = overfit
    ids, start = scored_example(tokenizer, TRAINED[0], TRAINED[1], 512)
    answer = tokenizer.decode(ids[start:])
    assert answer.startswith(TRAINED[1]) and answer.endswith("<|im_end|>")
    assert "Question" not in answer and TRAINED[0] not in answer
    short_ids, short_start = scored_example(tokenizer, TRAINED[0], TRAINED[1], 40)
    assert len(short_ids) == 40 and short_ids[short_start:] == ids[start:]
    with pytest.raises(ValueError, match="instructions"):
        perplexity(None, tokenizer, ["a"], [])
