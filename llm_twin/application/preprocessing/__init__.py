"""Feature engineering: clean, chunk and embed warehouse documents, and keep the vector store
in step with the warehouse.

- :mod:`.cleaning`: text cleaning that keeps code, punctuation and Markdown.
- :mod:`.chunking`: token-aware chunking with the embedder's tokenizer.
- :mod:`.handlers`: clean / chunk / embed handlers per data category and their registry;
  :func:`.handlers.chunk_embedding_text` is the text embedded for a chunk.
- :mod:`.sync`: the incremental, hash-driven sync used by the pipeline.
- :mod:`.cdc`: change data capture (polling or MongoDB change streams) on top of the sync.
"""
