"""cards: see the project README."""
