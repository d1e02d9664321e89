-- Core tables. Every statement is idempotent: the store applies all files in bench/sql at open.

CREATE TABLE IF NOT EXISTS runs (
    run_id      VARCHAR PRIMARY KEY,
    command     VARCHAR NOT NULL,
    params      JSON,
    versions    JSON,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL          -- running | done | failed
);

-- Segment-level MT cache: keyed by translator (with model revision), languages and segment text.
CREATE TABLE IF NOT EXISTS translation_cache (
    translator_key VARCHAR NOT NULL,
    source_lang    VARCHAR NOT NULL,
    target_lang    VARCHAR NOT NULL,
    segment_hash   VARCHAR NOT NULL,      -- sha256 of the exact text sent to the translator
    source_text    VARCHAR NOT NULL,
    translation    VARCHAR NOT NULL,
    run_id         VARCHAR,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (translator_key, source_lang, target_lang, segment_hash)
);

-- Item-level translations of one source dataset, with their QA flags.
CREATE TABLE IF NOT EXISTS translations (
    source_key     VARCHAR NOT NULL,      -- content hash of the validated source records
    item_id        VARCHAR NOT NULL,
    lang           VARCHAR NOT NULL,
    translator_key VARCHAR NOT NULL,
    source_text    VARCHAR NOT NULL,
    translation    VARCHAR NOT NULL,
    qa_flags       VARCHAR[] NOT NULL,
    qa_evidence    JSON,
    run_id         VARCHAR,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (source_key, item_id, lang, translator_key)
);
