"""Test fixtures: tiny, randomly initialised but real local models (never imported by runtime code)."""
