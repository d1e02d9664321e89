"""Translation backends behind one interface (see base.py)."""
from benchmark.translators.base import Translator, load_translator, parse_spec

__all__ = ["Translator", "load_translator", "parse_spec"]
