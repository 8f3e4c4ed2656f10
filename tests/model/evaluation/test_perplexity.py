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


def test_document_windows_score_every_token_exactly_once() -> None:
    from llm_twin.model.evaluation.perplexity import document_windows

    windows = document_windows(list(range(10)), 4, separator=99)
    assert windows == [([99, 0, 1, 2], 1), ([2, 3, 4, 5], 1), ([5, 6, 7, 8], 1), ([8, 9], 1)]
    scored = [token for ids, first in windows for token in ids[first:]]
    assert scored == list(range(10))
    # Without a separator the first token has no context: it is not scored.
    assert [t for ids, first in document_windows([5, 6, 7], 8, None) for t in ids[first:]] == [6, 7]
    assert document_windows([], 4, None) == [] and document_windows([5], 4, None) == []
    with pytest.raises(ValueError, match="at least 2"):
        document_windows([1, 2], 1, None)


def _nll(model, ids: list[int]) -> tuple[float, int]:
    """Summed negative log-likelihood of ids[1:] given the ids before, in one forward pass."""
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    nll = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum")
    return float(nll), len(ids) - 1


def test_document_perplexity_is_token_weighted_over_documents(overfit) -> None:
    import math

    from llm_twin.model.evaluation.perplexity import document_perplexity, document_separator

    model, tokenizer, _ = overfit
    short, long = TRAINED[1], " ".join(answer for _, answer in FACTS)
    separator = document_separator(tokenizer)
    assert separator == tokenizer.bos_token_id
    pieces = [
        _nll(model, [separator, *tokenizer(text, add_special_tokens=False)["input_ids"]])
        for text in (short, long)
    ]
    expected = math.exp(sum(nll for nll, _ in pieces) / sum(count for _, count in pieces))
    value, tokens = document_perplexity(model, tokenizer, [short, long], window=512)
    assert tokens == sum(count for _, count in pieces)
    assert value == pytest.approx(expected, rel=1e-4)
    # Not the mean of the documents' perplexities: the long document weighs more.
    mean = sum(math.exp(nll / count) for nll, count in pieces) / 2
    assert abs(value - mean) > 1e-3 * mean
    # Small windows score the same tokens (with less context each).
    windowed, windowed_tokens = document_perplexity(
        model, tokenizer, [short, long], window=8, batch_tokens=16
    )
    assert windowed_tokens == tokens and windowed > 1.0
    with pytest.raises(ValueError, match="no document tokens"):
        document_perplexity(model, tokenizer, [""])


def test_generated_answers_come_back_in_the_callers_order(tmp_path) -> None:
    """Evaluation batches prompts by length; each answer must still match its instruction."""
    import torch

    from llm_twin.infrastructure.llm.local import TransformersBackend
    from llm_twin.model.evaluation.generation import generate

    torch.set_num_threads(1)
    backend = TransformersBackend(build_tiny_model(tmp_path), model_id="tiny")
    backend.load()
    try:
        instructions = ["A much longer instruction about " + "models " * 12, "Hi?", "Why rust?"]
        answers = generate(backend, instructions, 6, 1)
        backwards = generate(backend, instructions[::-1], 6, 1)
    finally:
        backend.close()
    assert answers == backwards[::-1]
    assert len(set(answers)) == 3  # different prompts, different greedy answers
