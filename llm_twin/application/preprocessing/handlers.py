"""Clean / chunk / embed handlers per data category, chosen through a registry.

Adding a category = its row in ``domain/types.CATEGORY_INFO`` (collection, aliases), its
document class in ``domain/documents.py``, and here one :func:`register` call with its
:class:`HandlerSet` (cleaning, chunking levels and default sizes). The handlers are stateless;
the embedder, tokenizer counter and chunking config are passed in.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_twin.application.preprocessing.chunking import (
    CODE_LEVELS,
    PROSE_LEVELS,
    ChunkingConfig,
    Splitter,
    TokenChunker,
    TokenCounter,
)
from llm_twin.application.preprocessing.cleaning import (
    ZERO_WIDTH,
    clean_text,
    clean_title,
    text_fields,
)
from llm_twin.domain.documents import ContentDocument
from llm_twin.domain.features import Chunk, CleanedDocument
from llm_twin.domain.types import DataCategory
from llm_twin.domain.vectors import SparseVector

if TYPE_CHECKING:
    from llm_twin.application.embeddings import Embedder
    from llm_twin.application.sparse import SparseEncoder


def chunk_embedding_text(title: str | None, content: str) -> str:
    """THE text embedded (dense) and keyword-encoded (sparse) for a chunk: title + content.

    The title gives short chunks their topic. Retrieval and any re-indexing must use this
    function so stored vectors and recomputed ones agree.

    Args:
        title: The source's title (may be empty).
        content: The chunk's text.
    """
    return f"{title}\n\n{content}" if title else content


def chunk_text(chunk: Chunk) -> str:
    """:func:`chunk_embedding_text` of a :class:`Chunk`."""
    return chunk_embedding_text(chunk.title, chunk.content)


# -- cleaning --------------------------------------------------------------------------------
class CleaningHandler:
    """Turns a raw document into a :class:`CleanedDocument` (subclasses pick the text)."""

    def text(self, document: ContentDocument) -> str:
        """The raw text of ``document`` to clean (all string fields by default)."""
        return "\n\n".join(v for v in document.content.values() if isinstance(v, str) and v)

    def title(self, document: ContentDocument) -> str | None:
        """The document's title, if it has one."""
        title = document.content.get("Title")
        return clean_title(title) if isinstance(title, str) and title.strip() else None

    def clean_body(self, document: ContentDocument) -> str:
        """The cleaned body text."""
        return clean_text(self.text(document), document.platform)

    def clean(self, document: ContentDocument) -> CleanedDocument:
        """The cleaned copy of ``document`` (id = document id, source_hash = content hash)."""
        return CleanedDocument(
            id=document.id,
            document_id=document.id,
            category=type(document).category,
            author_id=document.author_id,
            author_full_name=document.author_full_name,
            platform=document.platform,
            link=document.link,
            title=self.title(document),
            content=self.clean_body(document),
            source_hash=document.content_hash,
        )


class ArticleCleaningHandler(CleaningHandler):
    """Articles: the ``Content`` field (the crawler's page text); other string fields if absent."""

    def text(self, document: ContentDocument) -> str:
        return "\n\n".join(text_fields(document.content, ("Content",))) or super().text(document)


class PostCleaningHandler(CleaningHandler):
    """Posts: ``text``/``Content`` fields; other string fields if absent."""

    def text(self, document: ContentDocument) -> str:
        keys = ("text", "Text", "Content", "content")
        return "\n\n".join(text_fields(document.content, keys)) or super().text(document)


class RepositoryCleaningHandler(CleaningHandler):
    """Repositories: one section per file, ``### File: <path>`` then the file's text.

    Code is not re-spaced: only line endings, zero-width characters and trailing spaces are
    normalised. Files that look binary (NUL bytes) are skipped.
    """

    def title(self, document: ContentDocument) -> str | None:
        name = getattr(document, "name", None)
        return clean_title(name) if name else super().title(document)

    def clean_body(self, document: ContentDocument) -> str:
        files = document.content.get("files")
        files = files if isinstance(files, dict) else document.content
        sections = []
        for path in sorted(files):
            body = files[path]
            if not isinstance(body, str) or "\x00" in body or not body.strip():
                continue
            # Code keeps its characters: only line endings and zero-width marks are fixed.
            body = ZERO_WIDTH.sub("", body.replace("\r\n", "\n").replace("\r", "\n"))
            lines = [line.rstrip() for line in body.split("\n")]
            sections.append(f"### File: {path}\n\n" + "\n".join(lines).strip("\n"))
        return "\n\n".join(sections)


# -- chunking --------------------------------------------------------------------------------
class ChunkingHandler:
    """Cuts a cleaned document into :class:`Chunk` records, token-aware.

    Args:
        levels: Splitters tried on over-long spans (prose or code).
        default_config: Size/overlap used when the pipeline config names none for the category.
        hard_first_level: Never pack pieces of two first-level sections (files) together.
    """

    def __init__(
        self,
        levels: Sequence[Splitter],
        default_config: ChunkingConfig,
        hard_first_level: bool = False,
    ) -> None:
        self.levels = tuple(levels)
        self.default_config = default_config
        self.hard_first_level = hard_first_level

    def chunk(
        self,
        document: CleanedDocument,
        counter: TokenCounter,
        max_seq_length: int,
        config: ChunkingConfig | None = None,
    ) -> list[Chunk]:
        """Chunks of ``document`` whose embedding text fits ``max_seq_length`` tokens.

        Args:
            document: The cleaned document.
            counter: Token counter of the embedder's tokenizer.
            max_seq_length: The embedder's window, special tokens included.
            config: Size/overlap; the handler's default when None.

        Raises:
            ValueError: the title alone leaves too little room for content.
        """
        config = config or self.default_config
        limit = min(config.chunk_tokens, max_seq_length)
        prefix = chunk_embedding_text(document.title, "")
        budget = limit - counter.special_tokens - (counter.count(prefix) if prefix else 0)
        if budget < 32:
            raise ValueError(
                f"document {document.document_id}: title {document.title!r} leaves only "
                f"{budget} tokens per chunk"
            )
        spans = TokenChunker(counter, self.levels, self.hard_first_level).chunk(
            document.content, budget, config.overlap_tokens, config.min_chunk_tokens
        )
        chunks = []
        for index, span in enumerate(spans):
            chunk = Chunk(
                document_id=document.document_id,
                category=document.category,
                author_id=document.author_id,
                author_full_name=document.author_full_name,
                platform=document.platform,
                link=document.link,
                title=document.title,
                content=document.content[span.start : span.end],
                chunk_index=index,
                start_char=span.start,
                end_char=span.end,
                source_hash=document.source_hash,
            )
            total = counter.count(chunk_text(chunk)) + counter.special_tokens
            if total > max_seq_length:  # an invariant of the chunker: fail loudly, never truncate
                raise ValueError(
                    f"chunk {index} of document {document.document_id} has {total} tokens, "
                    f"over the embedder's {max_seq_length}"
                )
            chunks.append(chunk)
        return chunks


# -- embedding -------------------------------------------------------------------------------
@dataclass
class EncodedChunk:
    """A chunk with its dense and sparse vectors, ready to load."""

    chunk: Chunk
    dense: list[float]
    sparse: SparseVector


class EmbeddingHandler:
    """Dense (sentence-transformers, normalised, batched) + sparse (BM25) vectors of chunks."""

    def text(self, chunk: Chunk) -> str:
        """The text encoded for ``chunk`` (see :func:`chunk_embedding_text`)."""
        return chunk_text(chunk)

    def dense(self, chunks: Sequence[Chunk], embedder: "Embedder") -> list[list[float]]:
        """Normalised dense vectors of ``chunks`` (one batched encoder call)."""
        return embedder.embed([self.text(chunk) for chunk in chunks])

    def sparse(self, chunks: Sequence[Chunk], encoder: "SparseEncoder") -> list[SparseVector]:
        """BM25 sparse vectors of ``chunks``."""
        return [encoder.encode_document(self.text(chunk)) for chunk in chunks]

    def embed(
        self, chunks: Sequence[Chunk], embedder: "Embedder", sparse: "SparseEncoder"
    ) -> list[EncodedChunk]:
        """Encode ``chunks`` in one batched call of ``embedder`` and ``sparse``.

        Args:
            chunks: Chunks to encode.
            embedder: An :class:`~llm_twin.application.embeddings.Embedder`.
            sparse: A :class:`~llm_twin.application.sparse.SparseEncoder`.
        """
        texts = [self.text(chunk) for chunk in chunks]
        dense = embedder.embed(texts)
        return [
            EncodedChunk(chunk, vector, sparse.encode_document(text))
            for chunk, vector, text in zip(chunks, dense, texts, strict=True)
        ]


# -- registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class HandlerSet:
    """The three handlers of one data category."""

    cleaner: CleaningHandler
    chunker: ChunkingHandler
    embedder: EmbeddingHandler


_REGISTRY: dict[DataCategory, HandlerSet] = {}


def register(category: DataCategory, handlers: HandlerSet) -> None:
    """Register (or replace) the handlers of ``category``."""
    _REGISTRY[category] = handlers


def handlers_for(category: DataCategory | str) -> HandlerSet:
    """The handlers of ``category``; ``ValueError`` naming the known ones if none."""
    category = DataCategory.parse(category) if isinstance(category, str) else category
    try:
        return _REGISTRY[category]
    except KeyError:
        known = ", ".join(sorted(c.value for c in _REGISTRY))
        raise ValueError(f"no preprocessing handlers for {category!r} (known: {known})") from None


def registered_categories() -> list[DataCategory]:
    """Categories with handlers, in registration order."""
    return list(_REGISTRY)


register(
    DataCategory.ARTICLES,
    HandlerSet(
        ArticleCleaningHandler(),
        ChunkingHandler(PROSE_LEVELS, ChunkingConfig(chunk_tokens=256, overlap_tokens=32)),
        EmbeddingHandler(),
    ),
)
register(
    DataCategory.POSTS,
    HandlerSet(
        PostCleaningHandler(),
        ChunkingHandler(PROSE_LEVELS, ChunkingConfig(chunk_tokens=256, overlap_tokens=0)),
        EmbeddingHandler(),
    ),
)
register(
    DataCategory.REPOSITORIES,
    HandlerSet(
        RepositoryCleaningHandler(),
        ChunkingHandler(
            CODE_LEVELS, ChunkingConfig(chunk_tokens=256, overlap_tokens=16), hard_first_level=True
        ),
        EmbeddingHandler(),
    ),
)
