"""Twin evaluation: score a registered model version (base vs pt vs SFT vs DPO) on the held-out
documents and test split of its instruct dataset.

Offline metrics (always): perplexity of the held-out documents' plain text and of the author's
held-out answers, stylometric distance to the author (Burrows' Delta, sentence-length and
punctuation profiles), embedding similarity to the author's reference answers, length and
repetition statistics. With an OpenAI-compatible judge configured: rubric scores (accuracy and
style 1-3) and pairwise twin-vs-base preferences.

Modules: ``config`` (EvaluationConfig), ``generation`` (the compared models and their answers),
``heldout`` (the held-out documents' texts), ``perplexity``, ``stylometry``, ``judge``,
``report`` (Markdown + plot + model card section), ``gate`` (against the base and the production
version), ``run`` (the whole evaluation of one version).
"""
