"""Translation QA: flag machine translations (untranslated, wrong language, truncated, code, numbers,
additions, loops). ``TranslationQA`` is the entry point; each flag is a module of ``benchmark.qa.flags``."""
from benchmark.qa.checker import QAResult, TranslationQA

__all__ = ["QAResult", "TranslationQA"]
