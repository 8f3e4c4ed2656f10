"""Cross-posts: the same text published on two platforms (a blog post syndicated to Medium, a
newsletter issue also on the author's site) is kept once for retrieval and training.

Choice: the warehouse keeps both records (each platform's link stays known, so the crawler does
not fetch the copy again on every run), and the later copy carries a pointer,
``content["CrossPostOf"] = <link of the first copy>``. The feature sync skips documents with
that pointer, so the vector store, and the datasets generated from it, hold the text once.
The first stored copy wins (usually the original: discovery and crawling go newest-first per
source, but a second source is only saved after the first).
"""

import hashlib
import re
from collections.abc import Iterable

from llm_twin.domain.documents import ContentDocument

CROSS_POST_KEY = "CrossPostOf"
#: Texts shorter than this many words are not compared (short posts repeat legitimately).
MIN_WORDS = 50
_WORD = re.compile(r"\w+")


def fingerprint(document: ContentDocument) -> str | None:
    """A hash of the document's body text ignoring case, punctuation and layout; ``None`` for
    documents without a body or with a short one."""
    content = document.content if isinstance(document.content, dict) else {}
    body = content.get("Content")
    if not isinstance(body, str):
        return None
    words = _WORD.findall(body.casefold())
    if len(words) < MIN_WORDS:
        return None
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


def is_cross_post(document: ContentDocument) -> bool:
    """True for a document marked as a copy of another."""
    content = document.content if isinstance(document.content, dict) else {}
    return bool(content.get(CROSS_POST_KEY))


def mark_cross_posts(
    documents: Iterable[ContentDocument], stored: Iterable[ContentDocument]
) -> int:
    """Mark each of ``documents`` whose text equals that of an earlier document (``stored``
    first, then the earlier ones of ``documents``) of the same author under another link;
    return how many were marked. A document already marked keeps its pointer."""
    first: dict[tuple[str, str], str] = {}
    for document in stored:
        key = fingerprint(document)
        if key and not is_cross_post(document):
            first.setdefault((str(document.author_id), key), document.link)
    marked = 0
    for document in documents:
        key = fingerprint(document)
        if key is None:
            continue
        original = first.setdefault((str(document.author_id), key), document.link)
        if original != document.link:
            document.content[CROSS_POST_KEY] = original
            marked += 1
    return marked
