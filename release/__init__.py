"""release: see the project README."""
