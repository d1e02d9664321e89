-- Human translation reviews pulled from Argilla (`bench annotate translations pull`, issue 18).
-- One row per submitted review: who reviewed which item of which language, with what result. The
-- dataset folder holds the merged outcome; this table keeps every reviewer's own answer (provenance),
-- and `bench release` exports it as the `reviews` config.
CREATE TABLE IF NOT EXISTS translation_reviews (
    review_set   VARCHAR NOT NULL,         -- Argilla dataset-name prefix (datasets are <review_set>-<lang>)
    lang         VARCHAR NOT NULL,         -- the reviewed config
    item_id      VARCHAR NOT NULL,         -- the dataset id (the Argilla record id)
    annotator    VARCHAR NOT NULL,         -- Argilla username
    rating       INTEGER,                  -- quality 1-5
    decision     VARCHAR NOT NULL,         -- post_edited | rejected | approved (annotation.translations rule)
    post_edit    VARCHAR,                  -- the reviewer's text (the MT when submitted unchanged)
    errors       VARCHAR[] NOT NULL,       -- annotation.translations.ERROR_LABELS ticked by the reviewer
    machine_translation VARCHAR,           -- the MT the reviewer was shown (the pre-filled suggestion)
    source       VARCHAR,                  -- Argilla workspace/dataset the review came from
    submitted_at TIMESTAMP,                -- when the reviewer submitted (UTC)
    pulled_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (review_set, lang, item_id, annotator)
);
