"""A small hand-written corpus indexed through the public VectorStore API (qdrant-edge).

Shared by the retrieval and CLI tests: their ``conftest.py`` import the fixtures from here
(``tests/`` is on ``sys.path`` because it holds the root ``conftest.py``).
"""

import uuid
from pathlib import Path

import pytest

from llm_twin.application.rag.self_query import Author
from llm_twin.domain.features import EMBEDDED_CHUNKS_COLLECTION, Chunk, chunk_id
from llm_twin.domain.vectors import VectorPoint

MAXIME = Author(str(uuid.uuid5(uuid.NAMESPACE_DNS, "maxime")), "Maxime Labonne")
PAUL = Author(str(uuid.uuid5(uuid.NAMESPACE_DNS, "paul")), "Paul Iusztin")

ABLITERATION = (
    "Abliteration removes the refusal direction from a chat model. We compute the mean "
    "activation difference between harmful and harmless instructions, then orthogonalize the "
    "weights against this refusal direction so the model stops refusing requests."
)
QUANTIZATION = (
    "GPTQ quantizes the weights of a large language model to 4 bits layer by layer, using "
    "second-order information to compensate the rounding error of each weight."
)
GRAPHS = (
    "A graph attention network learns attention coefficients between a node and its "
    "neighbours, so important neighbours contribute more to the aggregated features."
)
STREAMING = (
    "Our streaming pipeline uses Bytewax to read change events from a RabbitMQ queue, then "
    "cleans, chunks and embeds each post and writes it to the Qdrant vector database in real "
    "time."
)
RAG = (
    "Advanced RAG adds query expansion, self-query to extract metadata filters, hybrid "
    "filtered vector search and reranking of the retrieved passages with a cross-encoder."
)
CODE = (
    "def train(model, loader):\n    for batch in loader:\n        loss = model(batch).loss\n"
    "        loss.backward()\n"
)

#: (link, title, author, category, platform, paragraphs)
DOCUMENTS = [
    (
        "https://m.example/abliteration",
        "Uncensor any LLM with abliteration",
        MAXIME,
        "articles",
        "substack",
        [ABLITERATION, "The refusal direction lives in the residual stream of the middle layers."],
    ),
    (
        "https://m.example/gptq",
        "4-bit Quantization with GPTQ",
        MAXIME,
        "articles",
        "substack",
        [QUANTIZATION],
    ),
    ("https://m.example/gat", "Graph Attention Networks", MAXIME, "articles", "substack", [GRAPHS]),
    (
        "https://p.example/streaming",
        "Streaming pipelines for RAG",
        PAUL,
        "articles",
        "substack",
        [STREAMING],
    ),
    # The same article cross-posted on Medium: near-identical text under another link.
    (
        "https://medium.example/streaming",
        "Streaming pipelines for RAG",
        PAUL,
        "articles",
        "medium",
        [STREAMING + " "],
    ),
    ("https://p.example/rag", "The 4 advanced RAG algorithms", PAUL, "articles", "substack", [RAG]),
    (
        "https://p.example/post-rag",
        None,
        PAUL,
        "posts",
        "linkedin",
        ["Reranking with a cross-encoder fixes many RAG retrieval problems, says this post."],
    ),
    ("https://github.example/trainer", "trainer", PAUL, "repositories", "github", [CODE]),
]


def index_corpus(store, embedder, encoder, collection: str = EMBEDDED_CHUNKS_COLLECTION) -> int:
    """Write :data:`DOCUMENTS` as chunks (title + text embedded, like the feature pipeline)."""
    store.ensure_collection(collection, embedder.dimension, sparse=True)
    points = []
    for link, title, author, category, platform, paragraphs in DOCUMENTS:
        document_id = uuid.uuid5(uuid.NAMESPACE_URL, link)
        for index, text in enumerate(paragraphs):
            chunk = Chunk(
                id=chunk_id(document_id, index, text),
                document_id=document_id,
                category=category,
                author_id=uuid.UUID(author.id),
                author_full_name=author.full_name,
                platform=platform,
                link=link,
                title=title,
                content=text,
                chunk_index=index,
                source_hash="h",
            )
            embedded = f"{title}\n\n{text}" if title else text
            points.append(
                VectorPoint(
                    chunk.id,
                    embedder.embed([embedded])[0],
                    chunk.model_dump(mode="json", exclude={"id"}),
                    encoder.encode_document(embedded),
                )
            )
    return store.upsert(collection, points)


@pytest.fixture(scope="session")
def embedder():
    import torch

    from llm_twin.application.embeddings import get_embedder

    torch.set_num_threads(1)
    return get_embedder()


@pytest.fixture(scope="session")
def indexed_store_dir(tmp_path_factory, embedder) -> Path:
    """A DATA_DIR whose embedded (edge) vector store holds the small corpus."""
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store

    data_dir = tmp_path_factory.mktemp("rag-data")
    with open_edge_vector_store(data_dir / "qdrant_edge") as store:
        index_corpus(store, embedder, Bm25SparseEncoder())
    return data_dir


@pytest.fixture
def retriever(indexed_store_dir, embedder):
    """A default-configured retriever over the small corpus (store closed afterwards)."""
    from llm_twin.application.rag import ContextRetriever, RetrievalOptions
    from llm_twin.application.rag.rerankers import EvidenceReranker
    from llm_twin.application.rag.self_query import AuthorDirectory, RuleSelfQuery
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store

    directory = AuthorDirectory([MAXIME, PAUL])
    store = open_edge_vector_store(indexed_store_dir / "qdrant_edge")
    built = ContextRetriever(
        store,
        embedder,
        Bm25SparseEncoder(),
        directory,
        self_query=RuleSelfQuery(directory),
        reranker=EvidenceReranker(),
        options=RetrievalOptions(candidates=20),
        owns_store=True,
    )
    yield built
    built.close()


@pytest.fixture
def authors() -> dict[str, Author]:
    """The corpus's authors by first name."""
    return {"maxime": MAXIME, "paul": PAUL}
