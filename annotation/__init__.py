"""annotation: see the project README."""
