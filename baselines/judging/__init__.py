"""Judging stage: LLM-judge prompts, parsing, the judge run and imported published judgements."""
