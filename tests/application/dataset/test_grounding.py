"""Grounded question samples: the inference service's exact prompt, contexts from one split."""

from llm_twin.application.dataset.assembly import assemble
from llm_twin.application.dataset.extracts import ExtractConfig, split_document
from llm_twin.application.dataset.filters import FilterConfig
from llm_twin.application.dataset.grounding import ground
from llm_twin.application.dataset.instruct import instruct_rows
from llm_twin.application.dataset.structure import StructureGenerator
from llm_twin.application.rag.chunks import RetrievedChunk, to_context
from llm_twin.domain.prompts import build_messages
from llm_twin.model.finetuning.data import sft_example
from tests.application.dataset.structured_documents import ARTICLE, article


def _row(number, answer, author="Jane Doe", template="section", **extra):
    return {
        "document_id": f"doc-{number}",
        "extract_index": 0,
        "category": "articles",
        "author_full_name": author,
        "link": f"https://jane.example.com/p/{number}",
        "title": f"Article {number}",
        "instruction": extra.pop("question", "Write it."),
        "answer": answer,
        "template": template,
        **extra,
    }


def _rows():
    return [
        _row(
            1,
            "LoRA trains two small matrices per layer.",
            template="grounded_qa",
            question="What is LoRA?",
        ),
        _row(2, "Qdrant stores my embeddings next to their payloads."),
        _row(3, "Bytewax runs my streaming pipelines."),
        _row(4, "Someone else's text about cooking.", author="John Roe"),
        _row(1, "Another passage of the first article.", template="continuation"),
    ]


def test_grounded_prompt_is_the_services_prompt():
    rows = ground(_rows(), distractors=2, context_chars=3000, seed=1)
    row = rows[0]
    assert row["question"] == "What is LoRA?"
    # What the service sends for this question and context, and what SFT trains on.
    service = build_messages("What is LoRA?", row["context"])
    assert build_messages(row["instruction"]) == service
    assert sft_example(row)["messages"][:2] == service
    assert row["instruction"].startswith("Context:\n[") and row["instruction"].endswith(
        "\n\nQuestion: What is LoRA?"
    )
    # The passage and two distractors of the same author, from other documents first, rendered
    # by the service's own context builder.
    assert "LoRA trains two small matrices per layer." in row["context"]
    assert "cooking" not in row["context"] and "Another passage" not in row["context"]
    assert row["context"].count(" — Jane Doe\n") == 3
    chunks = [
        RetrievedChunk(
            id="",
            content=text,
            score=0.0,
            document_id=f"doc-{n}",
            title=f"Article {n}",
            link=f"https://jane.example.com/p/{n}",
            author="Jane Doe",
            author_id="",
            category="articles",
            platform="",
            chunk_index=0,
        )
        for n, text in _order(row["context"])
    ]
    assert to_context(chunks, max_chars=3000) == row["context"]
    assert rows[1:] == _rows()[1:]  # other templates are unchanged
    assert ground(_rows(), 2, 3000, seed=1) == rows  # seeded


def _order(context):
    """``(document number, passage)`` in the order the context shows them."""
    found = []
    for block in context.split("\n\nSources:")[0].split("\n\n"):
        header, text = block.split("\n", 1)
        found.append((int(header.split("Article ")[1].split(" ")[0]), text))
    return found


def test_the_context_limit_keeps_the_passage():
    rows = ground(_rows(), distractors=2, context_chars=150, seed=1)
    assert "LoRA trains two small matrices per layer." in rows[0]["context"]
    assert rows[0]["context"].count(" — Jane Doe\n") == 1
    alone = ground(_rows()[:1], distractors=2, context_chars=3000, seed=1)
    assert alone[0]["context"].count(" — Jane Doe\n") == 1


def test_contexts_never_quote_the_other_split():
    documents = [article(n, link=f"https://jane.example.com/p/{n}") for n in range(1, 7)]
    # Texts differ per document, so most passages survive deduplication.
    documents = [
        d.__class__(
            **{
                **d.to_dict(),
                "content": ARTICLE.replace(" the ", f" the {n} "),
            }
        )
        for n, d in enumerate(documents, 1)
    ]
    extracts = [
        e for d in documents for e in split_document(d, ExtractConfig(100, 300, sections=True))
    ]
    rows = instruct_rows(extracts, StructureGenerator(grounded_share=1.0))
    config = FilterConfig(
        min_answer_chars=50, languages=(), near_dup_threshold=0, decontamination_ngram=0
    )
    train, test, _ = assemble(
        rows, config, 0.34, seed=1, grounding={"distractors": 2, "context_chars": 3000}
    )
    assert any(r["template"] == "grounded_qa" for r in train)
    assert any(r["template"] == "grounded_qa" for r in test)
    for split, other in ((train, test), (test, train)):
        other_links = {r["link"] for r in other}
        for row in split:
            if row["template"] != "grounded_qa":
                continue
            assert row["answer"] in row["context"]
            # Every passage shown comes from a document of the same split.
            assert not any(link in row["context"] for link in other_links)
