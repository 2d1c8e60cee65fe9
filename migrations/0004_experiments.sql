-- A/B testing: experiments, their variations, exposures and metric events.

CREATE TABLE experiments (
    id                    bigserial PRIMARY KEY,
    key                   text NOT NULL UNIQUE,
    name                  text NOT NULL,
    hypothesis            text NOT NULL,
    owner                 text NOT NULL REFERENCES people(handle),
    state                 text NOT NULL CHECK (state IN ('draft', 'running', 'decided', 'documented')),
    metric                text NOT NULL,
    metric_kind           text NOT NULL CHECK (metric_kind IN ('binomial', 'mean')),
    guardrails            text[] NOT NULL DEFAULT '{}',
    engine                text NOT NULL CHECK (engine IN ('frequentist', 'bayesian')),
    difference            text NOT NULL CHECK (difference IN ('relative', 'absolute')),
    sequential            boolean NOT NULL DEFAULT false,
    sequential_tuning     double precision NOT NULL DEFAULT 5000,
    alpha                 double precision NOT NULL,
    power                 double precision NOT NULL,
    mde                   double precision NOT NULL,
    baseline              double precision NOT NULL,
    baseline_variance     double precision,
    daily_traffic         bigint NOT NULL,
    planned_per_variation bigint NOT NULL,
    planned_days          integer NOT NULL,
    content_id            bigint REFERENCES content_items(id),
    follows               bigint REFERENCES experiments(id),
    started_at            timestamptz,
    decided_at            timestamptz,
    decided_by            text,
    winner                text,
    decision_reason       text,
    learnings             text,
    documented_at         timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);

CREATE TABLE experiment_variations (
    experiment_id bigint NOT NULL REFERENCES experiments(id),
    key           text NOT NULL,
    weight        double precision NOT NULL CHECK (weight >= 0),
    position      integer NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

-- One row per unit: its variation never changes once assigned.
CREATE TABLE experiment_exposures (
    experiment_id bigint NOT NULL REFERENCES experiments(id),
    unit_id       text NOT NULL,
    variation     text NOT NULL,
    exposed_at    timestamptz NOT NULL,
    PRIMARY KEY (experiment_id, unit_id)
);

CREATE TABLE experiment_events (
    id            bigserial PRIMARY KEY,
    experiment_id bigint NOT NULL REFERENCES experiments(id),
    unit_id       text NOT NULL,
    -- the unit's variation, copied from its exposure when the event is
    -- recorded, so analysis folds events without joining exposures
    variation     text NOT NULL,
    metric        text NOT NULL,
    value         double precision NOT NULL,
    recorded_at   timestamptz NOT NULL
);
CREATE INDEX experiment_events_unit_idx ON experiment_events (experiment_id, metric, unit_id);
CREATE INDEX experiments_search_idx ON experiments
    USING gin (to_tsvector('english', name || ' ' || hypothesis || ' ' || coalesce(learnings, '')));
-- Count exposures per variation with an index-only scan.
CREATE INDEX experiment_exposures_variation_idx ON experiment_exposures (experiment_id, variation);
