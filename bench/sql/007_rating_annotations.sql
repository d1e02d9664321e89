-- Human ratings of model answers pulled from Argilla (`bench annotate ratings pull`, issue 15): the just-eval
-- rubric (helpfulness, clarity, factuality, depth, engagement; safety for safety items), 1-5. One row per
-- reference name, response, annotator and aspect. The reference's scores (the mean of its annotators) are
-- also written to `judgements` under the reference name (scoring 'human'), so `bench results agreement
-- --reference <name>` measures any judge against people.
CREATE TABLE IF NOT EXISTS rating_annotations (
    reference    VARCHAR NOT NULL,         -- the name the ratings are published under (judgements.judge)
    response_id  VARCHAR NOT NULL,         -- responses.response_id (the Argilla record id)
    annotator    VARCHAR NOT NULL,         -- Argilla username
    aspect       VARCHAR NOT NULL,         -- bench.vocabulary.ASPECTS
    score        INTEGER NOT NULL,         -- 1-5
    comment      VARCHAR,
    source       VARCHAR,                  -- Argilla workspace/dataset the rating came from
    submitted_at TIMESTAMP,                -- when the annotator submitted (UTC)
    pulled_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (reference, response_id, annotator, aspect)
);
