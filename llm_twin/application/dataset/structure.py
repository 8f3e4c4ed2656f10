"""The default offline generator: instructions from the document's structure and a reader's
questions, the answer always the author's extract, verbatim.

Each extract gets one template (the ``template`` column), chosen from where it sits in the
document's outline (:mod:`llm_twin.application.dataset.outline`):

- ``opening``: the first extract before any section → "Write the opening of an article titled
  "<title>" (<subtitle>)."
- ``section``: an extract that starts a section → "Write the section "<heading>" of your article
  "<title>"." ("the first part of the section" when the section goes on after it);
- ``post``: the first extract of a post → "Write a LinkedIn post about <topic>." (the title, else
  its two key phrases);
- ``code``: the start of a repository file → "Write <path> for the <name> repository (<what
  its README says it is>).";
- ``grounded_qa``: a question a reader would ask about the extract
  (:func:`~llm_twin.application.dataset.questions.question_for`); the dataset assembly later
  puts the extract among other passages of the same author, in the inference service's
  context format (:mod:`llm_twin.application.dataset.grounding`);
- ``continuation``: "Continue the article "<title>" from here:" and the paragraph before it;
- ``keyphrase``: the fallback when none fits (no title, no paragraph before it): the
  :class:`~llm_twin.application.dataset.keyphrase.KeyphraseGenerator`'s instruction.

Extracts in the middle of a document, and those that start a section, become ``grounded_qa``
(when a question is found) with probability ``grounded_share``, else ``continuation`` or
``section``; the draw is a hash of the seed, the document and the extract, so a re-run writes the
same dataset. Version 2 (``structure-v2``) also grounds section starts: version 1 grounded only
middle extracts, and 3 % of its samples taught the twin to answer from a context.
"""

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llm_twin.application.dataset.extracts import sentence_spans
from llm_twin.application.dataset.generation import Generated, Generator
from llm_twin.application.dataset.keyphrase import join_topics
from llm_twin.application.dataset.outline import Outline, Region, parse_outline, reader_title
from llm_twin.application.dataset.questions import question_for
from llm_twin.application.dataset.samples import Extract
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.vectors import Embedder

if TYPE_CHECKING:
    from llm_twin.application.dataset.keyphrase import KeyphraseGenerator

TEMPLATE_VERSION = 2
TEMPLATES = ("opening", "section", "post", "code", "grounded_qa", "continuation", "keyphrase")

#: Longest paragraph quoted in a continuation instruction (the tail of a longer one is kept).
PREVIOUS_CHARS = 400
_PLATFORMS = (("linkedin.", "LinkedIn"), ("x.com/", "X"), ("twitter.com/", "X"))


def _draw(seed: int, extract: Extract) -> float:
    """A uniform number in [0, 1) fixed by the seed, the document and the extract."""
    key = f"{seed}:{extract.document.document_id}:{extract.index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8]) / 2**64


def previous_paragraph(
    content: str, start: int, floor: int = 0, limit: int = PREVIOUS_CHARS
) -> str:
    """The paragraph before ``content[start]`` (headings skipped), at most ``limit`` characters:
    its last whole sentences, or its last words after "…" when one sentence is longer.

    Args:
        content: The document's text.
        start: Offset of the extract.
        floor: Do not look before this offset.
        limit: Most characters returned.
    """
    # A few paragraphs back are enough (documents can be long).
    blocks = [b.strip() for b in re.split(r"\n\s*\n", content[max(floor, start - 4000) : start])]
    blocks = [b for b in blocks if b and not b.startswith("#")]
    if not blocks:
        return ""
    block = " ".join(blocks[-1].split()) if "```" not in blocks[-1] else blocks[-1]
    if len(block) <= limit:
        return block
    kept = ""
    for s, _e in reversed(list(sentence_spans(block))):
        candidate = block[s:].strip()
        if len(candidate) > limit:
            break
        kept = candidate
    if kept:
        return kept
    tail = block[-limit:]
    return "…" + tail[tail.find(" ") + 1 :] if " " in tail else "…" + tail


def previous_lines(content: str, start: int, floor: int, limit: int = PREVIOUS_CHARS) -> str:
    """The lines of code before ``content[start]`` (from ``floor``), at most ``limit``
    characters, whole lines only."""
    lines = content[floor:start].rstrip().split("\n")
    kept: list[str] = []
    for line in reversed(lines):
        if sum(len(x) + 1 for x in kept) + len(line) > limit:
            break
        kept.insert(0, line)
    return "\n".join(kept).strip("\n")


def repository_purpose(content: str, outline: Outline) -> str:
    """What the repository is, from the first sentence of its README's prose (empty when it
    has no README or the sentence is long)."""
    readme = next(
        (r for r in outline.regions if r.heading.rsplit("/", 1)[-1].lower().startswith("readme")),
        None,
    )
    if readme is None:
        return ""
    for block in re.split(r"\n\s*\n", content[readme.start : readme.end]):
        text = " ".join(re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", block).split())
        if text.startswith(("#", "<", "!", "[", "|", "```", "-", "*")) or len(text.split()) < 5:
            continue
        first = next(iter(sentence_spans(text)), (0, len(text)))
        sentence = text[first[0] : first[1]].strip().rstrip(".").replace("**", "")
        return sentence if len(sentence) <= 160 else ""
    return ""


def platform_name(link: str) -> str:
    """``LinkedIn``, ``X`` or ``social media``: what kind of post the link is."""
    lowered = link.lower()
    return next((name for marker, name in _PLATFORMS if marker in lowered), "social media")


class StructureGenerator(Generator):
    """Author-shaped instructions from the document's structure; no LLM.

    Args:
        seed: Fixes which middle extracts become grounded questions.
        grounded_share: Fraction of the middle and section-start extracts (with a question
            found) that become ``grounded_qa`` samples; the rest are ``continuation`` and
            ``section`` samples. 0 for datasets whose prompts get no retrieved context (the
            preference pipeline).
        distractors: Other passages of the same author put beside the answer's passage in a
            grounded sample's context.
        context_chars: Most characters of a grounded sample's context (default: the inference
            service's ``LLM_CONTEXT_CHARS``).
        embedder: For the key-phrase fallback and post topics (default: the configured one,
            loaded only when needed).
        keyphrase_options: Options of the key-phrase fallback (``top_n``, ``diversity``,
            ``candidates``).
    """

    kind = "structure"

    def __init__(
        self,
        seed: int = 42,
        grounded_share: float = 0.75,
        distractors: int = 2,
        context_chars: int | None = None,
        embedder: Embedder | None = None,
        keyphrase_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= grounded_share <= 1:
            raise InvalidInput(f"grounded_share must be in [0, 1], got {grounded_share}")
        if distractors < 0:
            raise InvalidInput(f"distractors must be >= 0, got {distractors}")
        self.seed = seed
        self.grounded_share = grounded_share
        self.distractors = distractors
        self.context_chars = context_chars
        self._embedder = embedder
        self._keyphrase_options = dict(keyphrase_options or {})
        self._keyphrase: KeyphraseGenerator | None = None
        self._outlines: dict[str, Outline] = {}

    @property
    def name(self) -> str:
        return f"structure-v{TEMPLATE_VERSION}"

    @property
    def grounding(self) -> dict[str, int]:
        """How the dataset assembly builds grounded samples' contexts."""
        context_chars = self.context_chars
        if context_chars is None:
            from llm_twin.settings import get_settings

            context_chars = get_settings().llm.context_chars
        return {"distractors": self.distractors, "context_chars": context_chars}

    @property
    def keyphrase(self) -> "KeyphraseGenerator":
        """The fallback generator (created on first use)."""
        if self._keyphrase is None:
            from llm_twin.application.dataset.keyphrase import KeyphraseGenerator

            self._keyphrase = KeyphraseGenerator(embedder=self._embedder, **self._keyphrase_options)
        return self._keyphrase

    def outline(self, extract: Extract) -> Outline:
        """The outline of the extract's document (parsed once per document)."""
        document = extract.document
        if document.document_id not in self._outlines:
            self._outlines[document.document_id] = parse_outline(document)
        return self._outlines[document.document_id]

    def instructions(self, extracts: Sequence[Extract]) -> list[Generated]:
        import time

        started = time.perf_counter()
        results = [self._templated(extract) for extract in extracts]
        pending = [i for i, item in enumerate(results) if item.instruction is None]
        if pending:
            self._fill_with_key_phrases(extracts, results, pending)
        self.usage.requests += len(extracts)
        self.usage.failures += sum(item.instruction is None for item in results)
        self.usage.seconds += time.perf_counter() - started
        return results

    def _fill_with_key_phrases(
        self, extracts: Sequence[Extract], results: list[Generated], pending: list[int]
    ) -> None:
        """Post topics and the fallback instructions, from key phrases (one embedding batch)."""
        from llm_twin.application.dataset.keyphrase import instruction_for

        chosen = [extracts[i] for i in pending]
        for i, extract, phrases in zip(
            pending, chosen, self.keyphrase.key_phrases(chosen), strict=True
        ):
            if not phrases:
                continue
            if results[i].extra.get("template") == "post":
                platform = platform_name(extract.document.link)
                topic = join_topics(phrases[:2])
                results[i].instruction = f"Write a {platform} post about {topic}."
            else:
                results[i].instruction = instruction_for(extract, phrases)
                results[i].extra = {"template": "keyphrase"}

    def _templated(self, extract: Extract) -> Generated:
        """The extract's template and instruction (``None`` when key phrases are needed)."""
        category = extract.document.category
        outline = self.outline(extract)
        region = outline.region_at(extract.start)
        if category == "repositories":
            return self._code(extract, outline, region)
        if category == "posts" and extract.index == 0:
            return self._post(extract, outline)
        content = extract.document.content
        starts_region = region is not None and not content[region.start : extract.start].strip()
        if region is not None and region.kind == "section" and starts_region:
            grounded = self._grounded(extract, region.heading)
            return grounded or self._section(extract, outline, region)
        if extract.index == 0 and _before_sections(outline, extract.start) and outline.title:
            return self._opening(outline)
        return self._middle(extract, outline, region)

    def _opening(self, outline: Outline) -> Generated:
        subtitle = outline.subtitle.rstrip(".")
        aside = f" ({subtitle})" if subtitle else ""
        return _generated(
            "opening", f'Write the opening of an article titled "{outline.title}"{aside}.'
        )

    def _section(self, extract: Extract, outline: Outline, region: Region) -> Generated:
        content = extract.document.content
        part = (
            "the section"
            if not content[extract.end : region.end].strip()
            else "the first part of the section"
        )
        where = f'of your article "{outline.title}"' if outline.title else "of your article"
        return _generated("section", f'Write {part} "{region.heading}" {where}.')

    def _post(self, extract: Extract, outline: Outline) -> Generated:
        title = reader_title(extract.document.title, extract.document.author_full_name)
        if not title:
            return Generated(extra={"template": "post"})  # topic from key phrases
        platform = platform_name(extract.document.link)
        return _generated("post", f'Write a {platform} post about "{title}".')

    def _code(self, extract: Extract, outline: Outline, region: Region | None) -> Generated:
        content = extract.document.content
        if region is None or region.kind != "file":
            return Generated()
        if content[region.start : extract.start].strip():
            before = previous_lines(content, extract.start, region.start)
            if not before:
                return Generated()
            return _generated("continuation", f"Continue {region.heading}:\n\n{before}")
        purpose = repository_purpose(content, outline)
        repository = f"the {outline.title} repository" if outline.title else "this repository"
        aside = f" ({purpose})" if purpose else ""
        whole = not content[extract.end : region.end].strip()
        start = "Write" if whole else "Write the beginning of"
        return _generated("code", f"{start} {region.heading} for {repository}{aside}.")

    def _grounded(self, extract: Extract, heading: str, always: bool = False) -> Generated | None:
        """A ``grounded_qa`` sample when a reader's question about the extract is found and the
        seeded draw falls within ``grounded_share`` (``always``: whenever one is found)."""
        if self.grounded_share == 0:
            return None
        question = question_for(extract.text, heading)
        if question is None or not (always or _draw(self.seed, extract) < self.grounded_share):
            return None
        return Generated(
            instruction=question.text,
            extra={"template": "grounded_qa", "question": question.text},
        )

    def _middle(self, extract: Extract, outline: Outline, region: Region | None) -> Generated:
        """A grounded question or a continuation for an extract inside the text."""
        heading = region.heading if region is not None and region.kind == "section" else ""
        content = extract.document.content
        before = previous_paragraph(content, extract.start)
        grounded = self._grounded(extract, heading, always=not before)
        if grounded is not None:
            return grounded
        if not before:
            return Generated()
        kind = "post" if extract.document.category == "posts" else "article"
        if outline.title and kind == "article":
            return _generated(
                "continuation", f'Continue the article "{outline.title}" from here:\n\n{before}'
            )
        return _generated("continuation", f"Continue this {kind}:\n\n{before}")


def _before_sections(outline: Outline, offset: int) -> bool:
    """No section starts before ``offset``."""
    return not any(r.kind == "section" and r.start <= offset for r in outline.regions)


def _generated(template: str, instruction: str) -> Generated:
    return Generated(instruction=instruction, extra={"template": template})
