-- Responses, judgements and critical errors: what baselines, judges and detectors append.

-- One model response to one instruction in one language under one method and setting.
CREATE TABLE IF NOT EXISTS responses (
    response_id       VARCHAR PRIMARY KEY,  -- sha256(run_key, item_id, lang)[:24]
    run_key           VARCHAR NOT NULL,     -- hash of model+revision+method+prompt hash+decoding params
    model             VARCHAR NOT NULL,     -- display name (Hub id, path stem or published generator name)
    model_revision    VARCHAR,
    method            VARCHAR NOT NULL,     -- zero-shot | urial | chat | dpo | published
    lang              VARCHAR NOT NULL,
    item_id           VARCHAR NOT NULL,
    instruction       VARCHAR NOT NULL,
    category          VARCHAR,              -- regular | safety
    task              VARCHAR[],
    topic             VARCHAR[],
    source_dataset    VARCHAR,              -- Just-Eval's `dataset` field (lima, koala, ...)
    difficulty        VARCHAR,
    output            VARCHAR NOT NULL,     -- cleaned answer
    raw_output        VARCHAR,              -- text as generated (before stop/fence cleaning)
    finish_reason     VARCHAR,              -- stop | length | imported
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    backend           VARCHAR,
    prompt_hash       VARCHAR,
    generation_params JSON,
    seconds           DOUBLE,
    seed              INTEGER,
    versions          JSON,
    run_id            VARCHAR,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- One score per (response, judge, aspect); score NULL = missing (never silently 5 or 0).
CREATE TABLE IF NOT EXISTS judgements (
    response_id VARCHAR NOT NULL,
    judge       VARCHAR NOT NULL,           -- judge spec or published judge name
    protocol    VARCHAR NOT NULL,           -- multi-aspect | safety
    aspect      VARCHAR NOT NULL,           -- helpfulness | clarity | factuality | depth | engagement | safety
    score       DOUBLE,
    raw_score   VARCHAR,                    -- score as the judge wrote it ('N/A', '4', ...)
    reason      VARCHAR,
    error       VARCHAR,                    -- why the score is missing, if it is
    run_id      VARCHAR,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (response_id, judge, aspect)
);

-- Raw judge calls (cache keyed by judge + prompt hash; nothing is paid twice).
CREATE TABLE IF NOT EXISTS judge_calls (
    judge             VARCHAR NOT NULL,
    prompt_hash       VARCHAR NOT NULL,
    response_id       VARCHAR,
    protocol          VARCHAR,
    raw               VARCHAR,
    parsed            JSON,
    error             VARCHAR,
    attempts          INTEGER,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    cost_usd          DOUBLE,
    run_id            VARCHAR,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (judge, prompt_hash)
);

-- Critical-error detection: one row per checked response and detector version (labels may be empty).
CREATE TABLE IF NOT EXISTS critical_error_checks (
    response_id      VARCHAR NOT NULL,
    detector_version VARCHAR NOT NULL,
    labels           VARCHAR[] NOT NULL,
    evidence         JSON,
    checked_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (response_id, detector_version)
);
