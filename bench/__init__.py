"""bench: shared core (CLI, workspace, store, errors, languages)."""
__version__ = "0.1.0"
