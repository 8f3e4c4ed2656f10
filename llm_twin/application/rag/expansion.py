"""Query expansion: alternative phrasings of a question, searched alongside it and fused.

Only an LLM can write useful reformulations, so expansion is off unless an LLM is configured
and ``RAG_EXPANSION_COUNT`` > 0. When the LLM fails, retrieval continues with the original
question alone (logged as a warning).
"""

import re

from loguru import logger

from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, LLMError
from llm_twin.infrastructure.llm.structured import chat

_SYSTEM = (
    "You rewrite search questions for a document retriever. Given a question, write {n} "
    "different reformulations that use other words a document answering it would contain. "
    "Answer with one reformulation per line, no numbering, no other text."
)
_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


class LLMQueryExpander:
    """Reformulations by an LLM.

    Args:
        llm: The chat model (asked greedily).
    """

    def __init__(self, llm: LLMBackend) -> None:
        self.llm = llm

    def expand(self, query: str, count: int) -> list[str]:
        """Up to ``count`` reformulations of ``query`` (never the query itself, no repeats)."""
        if count <= 0:
            return []
        try:
            answer = self.llm.complete(
                chat(_SYSTEM.format(n=count), query),
                GenerationParams(max_new_tokens=64 * count, temperature=0.0, top_p=1.0),
            ).text
        except LLMError as error:
            logger.warning("query expansion failed, searching the question alone: {}", error)
            return []
        variants: list[str] = []
        seen = {query.strip().lower()}
        for line in answer.splitlines():
            variant = _NUMBERING.sub("", line).strip().strip('"').strip()
            if variant and variant.lower() not in seen:
                seen.add(variant.lower())
                variants.append(variant)
        return variants[:count]
