"""RAG evaluation: retrieval recall@k / MRR on labelled questions and the faithfulness and
relevance of answers generated from the retrieved context (judge LLM or offline proxies).

Entry point: :func:`llm_twin.application.rag.evaluation.run.evaluate_rag`.
"""
