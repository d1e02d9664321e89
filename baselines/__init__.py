"""baselines: see the project README."""
