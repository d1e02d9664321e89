-- Judge scoring modes and judge provenance (issue 15). Every statement is idempotent: the store applies all
-- files in bench/sql at open.

-- How a score was read: text (the judge's JSON answer, parsed) | probs (the judge's next-token distribution
-- over the score tokens 1-5; baselines/judging/prob_scoring.py). NULL in rows written before the column: text.
-- For probs rows, judgements.score is the expected score sum(k * p_k), and:
ALTER TABLE judgements ADD COLUMN IF NOT EXISTS scoring VARCHAR;
ALTER TABLE judgements ADD COLUMN IF NOT EXISTS score_distribution DOUBLE[];  -- P(1..5), sums to 1
ALTER TABLE judgements ADD COLUMN IF NOT EXISTS score_argmax INTEGER;         -- most probable score
ALTER TABLE judgements ADD COLUMN IF NOT EXISTS score_entropy DOUBLE;         -- of the distribution, in nats
ALTER TABLE judgements ADD COLUMN IF NOT EXISTS score_mass DOUBLE;            -- probability of 1-5 before normalising
ALTER TABLE judge_calls ADD COLUMN IF NOT EXISTS scoring VARCHAR;

-- The settings a judge ran with (backend, model revision or file hash, dtype, device, prompt version, scoring
-- mode, ...): one row per judge name and distinct settings, for the results card.
CREATE TABLE IF NOT EXISTS judge_settings (
    judge          VARCHAR NOT NULL,
    settings_hash  VARCHAR NOT NULL,         -- sha256 of the canonical settings JSON
    settings       JSON NOT NULL,
    first_run_id   VARCHAR,
    last_run_id    VARCHAR,
    first_seen     TIMESTAMP NOT NULL,
    last_seen      TIMESTAMP NOT NULL,
    PRIMARY KEY (judge, settings_hash)
);
