"""Offline questions a reader would ask: headings, the author's own questions, key sentences."""

import pytest

from llm_twin.application.dataset.questions import (
    key_sentence_question,
    question_for,
    standalone_question,
)


def test_heading_and_author_questions_come_first():
    found = question_for("LoRA is a method that trains small matrices.", "What is LoRA?")
    assert (found.text, found.source) == ("What is LoRA?", "heading")
    passage = (
        "Streaming matters. What is Change Data Capture (CDC)? It captures every insert, "
        "update and delete of a database."
    )
    found = question_for(passage, "CDC tech stack")
    assert (found.text, found.source) == ("What is Change Data Capture (CDC)?", "author")
    # Questions pointing back at earlier text are not standalone.
    assert standalone_question("But why does this matter so much?") is None
    assert standalone_question("What is it?") is None
    assert standalone_question("Is LoRA worth it for small models?") is None
    assert standalone_question("Why do we need a vector database here?") is None
    assert standalone_question("But what does a GCN learn?") == "What does a GCN learn?"


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        (
            "Supervised fine-tuning (SFT) is a method to adapt a model.",
            "What is Supervised fine-tuning (SFT)?",
        ),
        ("The purpose of CDC is to capture every change.", "What is the purpose of CDC?"),
        (
            "My feature pipeline is responsible for cleaning.",
            "What is your feature pipeline responsible for?",
        ),
        ("Qdrant is used to store the embeddings.", "What is Qdrant used for?"),
        ("To uncensor an LLM, we first need to find a direction.", "How do you uncensor an LLM?"),
        ("To deploy our model, you must build an image.", "How do you deploy your model?"),
        ("Bytewax lets you write streaming pipelines in Python.", "What does Bytewax let you do?"),
    ],
)
def test_key_sentences_become_questions(sentence, question):
    assert key_sentence_question(sentence)[0] == question


@pytest.mark.parametrize(
    "sentence",
    [
        "It is a method to adapt a model.",  # a pronoun subject
        "Deploying models is hard.",  # no definition follows the verb
        "We are going to build a pipeline.",
        "This is the best part of the course.",
        "The reason for these two lists is that they differ.",  # points at earlier text
        "System DesignThe retrieval system is a pipeline.",  # words glued by the crawler
    ],
)
def test_sentences_without_a_question(sentence):
    assert key_sentence_question(sentence) is None


def test_subjects_keep_names_and_lower_case_common_words():
    passage = "Adapters are the small matrices LoRA trains. I keep adapters small."
    assert key_sentence_question(passage.split(". ")[0], passage)[0] == "What are adapters?"
    passage = "Bytewax is a streaming engine written in Rust."
    assert key_sentence_question(passage, passage)[0] == "What is Bytewax?"


def test_the_key_sentence_is_the_one_about_the_passage_topic():
    passage = (
        "Bytewax is a streaming engine. LoRA is a method that trains adapters. LoRA keeps the "
        "base weights frozen, and LoRA adapters are tiny."
    )
    assert question_for(passage).text == "What is LoRA?"
    assert question_for("Nothing here asks or defines anything at all.") is None
