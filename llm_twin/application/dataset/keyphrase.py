"""The no-LLM generator: instructions from the extract's title and its key phrases.

Key phrases are chosen KeyBERT-style with the offline MiniLM embedder: candidate 1-3 word
phrases (no stop words at their ends) are ranked by cosine similarity to the extract, with
maximal marginal relevance so the picked phrases are not near-synonyms. The instruction is one
of a few wordings per category (chosen deterministically from the extract), naming the phrases
and the title. Always available offline; the answers stay the author's text.
"""

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llm_twin.application.dataset.generation import Generated, Generator
from llm_twin.application.dataset.samples import Extract
from llm_twin.domain.vectors import Embedder

if TYPE_CHECKING:
    import numpy as np

TEMPLATE_VERSION = 1

# Wordings per category: {title} and {topics} are filled in ("A, B and C").
_WORDINGS: dict[str, tuple[str, ...]] = {
    "articles": (
        'Write a paragraph for a technical article titled "{title}" that covers {topics}.',
        'Explain {topics}, as you would in a blog article about "{title}".',
        'In the context of "{title}", write a section that discusses {topics}.',
        'Write a short explanation of {topics} for readers of an article on "{title}".',
    ),
    "posts": (
        "Write a short social media post about {topics}.",
        'Write a LinkedIn post on "{title}" that talks about {topics}.',
    ),
    "repositories": (
        'Write the documentation of "{title}" that describes {topics}.',
        'Describe {topics} in the README of "{title}".',
    ),
}
_UNTITLED = {
    "articles": "Write a paragraph for a technical article that covers {topics}.",
    "posts": "Write a short social media post about {topics}.",
    "repositories": "Write documentation that describes {topics}.",
}

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#.\-]*[A-Za-z0-9+#]|[A-Za-z]")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | {"s", "t", "ll", "ve", "re", "let", "using", "use"}


def candidate_phrases(text: str, stop_words: frozenset[str], limit: int = 30) -> list[str]:
    """1-3 word phrases of ``text`` that neither start nor end with a stop word, most frequent
    first (ties: longer first), at most ``limit``. A phrase's words are separated only by
    whitespace in the text, so every phrase occurs in it (whitespace normalised)."""
    matches = list(_WORD.finditer(text))
    words = [m.group() for m in matches]
    # joined[i]: word i and word i+1 are separated by whitespace only (no punctuation).
    joined = [
        text[matches[i].end() : matches[i + 1].start()].isspace() for i in range(len(matches) - 1)
    ]
    counts: Counter[str] = Counter()
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            if not all(joined[i : i + size - 1]):
                continue
            gram = words[i : i + size]
            if any(len(w) == 1 and not w.isupper() for w in gram):
                continue
            first, last = gram[0].lower(), gram[-1].lower()
            if first in stop_words or last in stop_words or first.isdigit():
                continue
            if len(gram) == 1 and len(first) < 3:
                continue
            counts[" ".join(gram)] += 1
    ranked = sorted(counts, key=lambda p: (-counts[p], -len(p.split()), p))
    # One casing per phrase.
    seen: set[str] = set()
    result = []
    for phrase in ranked:
        if phrase.lower() not in seen:
            seen.add(phrase.lower())
            result.append(phrase)
        if len(result) == limit:
            break
    return result


def mmr(
    document: "np.ndarray", candidates: "np.ndarray", top_n: int, diversity: float
) -> list[int]:  # normalised vectors
    """Indices of ``top_n`` candidates by maximal marginal relevance to ``document``."""
    import numpy as np

    relevance = candidates @ document
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(top_n, len(candidates)):
        redundancy = (candidates @ candidates[chosen].T).max(axis=1)
        score = (1 - diversity) * relevance - diversity * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


def join_topics(phrases: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


class KeyphraseGenerator(Generator):
    """Instructions from titles and MiniLM-ranked key phrases; no LLM.

    Args:
        embedder: An :class:`~llm_twin.application.embeddings.Embedder` (default: the
            configured one, loaded on first use).
        top_n: Key phrases named in each instruction.
        diversity: MMR trade-off between relevance (0) and variety (1).
        candidates: Candidate phrases per extract that are embedded and ranked.
    """

    kind = "keyphrase"

    def __init__(
        self,
        embedder: Embedder = None,
        top_n: int = 3,
        diversity: float = 0.5,
        candidates: int = 20,
    ) -> None:
        super().__init__()
        self._embedder = embedder
        self.top_n = top_n
        self.diversity = diversity
        self.candidates = candidates
        self._phrase_vectors: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return f"keyphrase-minilm-v{TEMPLATE_VERSION}"

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from llm_twin.application.embeddings import get_embedder
            from llm_twin.settings import get_settings

            settings = get_settings()
            self._embedder = get_embedder(
                settings.rag.embedding_model_id, settings.rag.embedding_device
            )
        return self._embedder

    def key_phrases(self, extracts: Sequence[Extract]) -> list[list[str]]:
        """The ``top_n`` key phrases of each extract."""
        import numpy as np

        stop_words = _stop_words()
        per_extract = [candidate_phrases(e.text, stop_words, self.candidates) for e in extracts]
        new = sorted({p for phrases in per_extract for p in phrases} - set(self._phrase_vectors))
        # Phrases repeat across extracts: embed each once.
        for phrase, vector in zip(new, self.embedder.embed(new), strict=True):
            self._phrase_vectors[phrase] = np.asarray(vector, dtype=np.float32)
        documents = np.asarray(self.embedder.embed([e.text for e in extracts]), dtype=np.float32)
        result = []
        for document, phrases in zip(documents, per_extract, strict=True):
            if not phrases:
                result.append([])
                continue
            matrix = np.stack([self._phrase_vectors[p] for p in phrases])
            result.append([phrases[i] for i in mmr(document, matrix, self.top_n, self.diversity)])
        return result

    def instructions(self, extracts: Sequence[Extract]) -> list[Generated]:
        import time

        started = time.perf_counter()
        results = []
        for extract, phrases in zip(extracts, self.key_phrases(extracts), strict=True):
            self.usage.requests += 1
            if not phrases:
                self.usage.failures += 1
                results.append(Generated(extra={"key_phrases": []}))
                continue
            results.append(
                Generated(
                    instruction=instruction_for(extract, phrases),
                    extra={"key_phrases": phrases},
                )
            )
        self.usage.seconds += time.perf_counter() - started
        return results


def instruction_for(extract: Extract, phrases: Sequence[str]) -> str:
    """The instruction naming ``phrases`` (and the title), worded per category."""
    category = extract.document.category
    title = " ".join(extract.document.title.split())
    topics = join_topics(list(phrases))
    if not title:
        return _UNTITLED.get(category, _UNTITLED["articles"]).format(topics=topics)
    wordings = _WORDINGS.get(category, _WORDINGS["articles"])
    # Deterministic variety: the same extract always gets the same wording.
    digest = hashlib.sha256(f"{extract.document.document_id}:{extract.index}".encode()).digest()
    return wordings[digest[0] % len(wordings)].format(title=title, topics=topics)
