-- Human annotations pulled from Argilla (`bench annotate errors pull`).

-- Critical-error labels one annotator gave one model response (labels empty = no critical error).
CREATE TABLE IF NOT EXISTS error_annotations (
    response_id  VARCHAR NOT NULL,         -- responses.response_id (the Argilla record id)
    annotator    VARCHAR NOT NULL,         -- Argilla username
    labels       VARCHAR[] NOT NULL,       -- baselines.critical_errors.LABELS and/or 'other'
    comment      VARCHAR,
    source       VARCHAR,                  -- Argilla workspace/dataset the labels came from
    submitted_at TIMESTAMP,                -- when the annotator submitted (UTC)
    pulled_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (response_id, annotator)
);
