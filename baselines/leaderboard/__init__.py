"""Leaderboard stage: DuckDB queries, statistics and table/plot rendering."""
