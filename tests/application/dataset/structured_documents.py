"""Documents shaped like the crawled corpus (title block, wrapped headings, navigation, code),
shared by the outline, structure and grounding tests."""

from llm_twin.application.dataset.samples import SourceDocument

ARTICLE = """# Jane Doe

# Fine-tune small models on a laptop and still learn something
useful

### A practical guide to LoRA

Jane Doe

Mar 07, 2024

14

Small language models are underrated. I spent a month training them on my own writing, on a \
laptop with two cores, and the results surprised me. This article walks through what worked.

I will cover the data, the adapters and the evaluation, in that order. Everything runs offline, \
and every number comes from a script you can run yourself.

## Table of Contents:

  1. Data

  2. Adapters

## 1\\. Data

Good data beats clever training. I cut every article into passages of whole sentences, so each \
answer is something I actually wrote. The instructions come from the structure of the article.

Deduplication matters more than people think. Near-duplicate passages make the model memorise \
instead of generalise, so I drop them with MinHash before the split.

```python
# not a heading: a comment inside code
passages = cut(article)
```

The split is by document, never by sample. A test article never leaks into training.

## ✂️ What is LoRA?

LoRA is a method that freezes the base weights and trains two small matrices per layer. It \
keeps the number of trained parameters tiny. LoRA makes fine-tuning possible on a laptop.

To pick the rank of LoRA, you should start small and double it while the loss keeps falling. \
The rank sets how much the adapter can learn.

Why does the learning rate matter so much? A rate that is too high destroys what the base \
model knew, while one that is too low teaches it nothing at all in a few steps.
"""

REPOSITORY = """### File: README.md

# demo

[![build](https://example.com/badge.svg)](https://example.com)

A tiny demo that fine-tunes a model on your own articles. It runs on a laptop.

### File: src/train.py

import torch


def train(model, data):
    for batch in data:
        loss = model(batch).loss
        loss.backward()
    return model


def evaluate(model, data):
    total = 0.0
    for batch in data:
        total += model(batch).loss.item()
    return total / len(data)
"""


def article(number: int = 1, **overrides: str) -> SourceDocument:
    """The sample article (title heading, subtitle, furniture, sections, code)."""
    values = {
        "document_id": f"00000000-0000-0000-0000-{number:012d}",
        "category": "articles",
        "author_full_name": "Jane Doe",
        "link": f"https://jane.example.com/p/{number}",
        "title": "Fine-tune small models on a laptop and still learn something useful - Jane Doe",
        "content": ARTICLE,
    }
    values.update(overrides)
    return SourceDocument(**values)


def repository() -> SourceDocument:
    """A repository of a README and one Python file."""
    return SourceDocument(
        document_id="00000000-0000-0000-0000-000000000100",
        category="repositories",
        author_full_name="Jane Doe",
        link="https://github.com/jane/demo",
        title="demo",
        content=REPOSITORY,
    )


def post(title: str = "Why I train on my own writing") -> SourceDocument:
    """A LinkedIn post."""
    text = (
        "I trained a small model on my own posts last week. It picked up my habit of short "
        "sentences within an hour of training. The trick was to keep every answer exactly as I "
        "wrote it, and to let the instructions come from the structure of the post."
    )
    return SourceDocument(
        document_id="00000000-0000-0000-0000-000000000200",
        category="posts",
        author_full_name="Jane Doe",
        link="https://www.linkedin.com/posts/jane_1",
        title=title,
        content=text,
    )
