-- Additive columns (issue 17). Every statement is idempotent: the store applies all files in bench/sql at open.

-- Who runs a run: a `running` row whose process is gone is marked `interrupted` when the store next opens
-- for writing (bench.store.Store.mark_interrupted_runs). runs.status: running | done | failed | interrupted.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid INTEGER;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS host VARCHAR;

-- Judging rounds of an item: 1 = its first judging; each rerun that re-asks a missing score adds 1
-- (bounded by `bench baselines judge --max-attempts`). NULL in rows written before the column: 1.
ALTER TABLE judgements ADD COLUMN IF NOT EXISTS rounds INTEGER;
ALTER TABLE judge_calls ADD COLUMN IF NOT EXISTS rounds INTEGER;
