-- Experiments: the planned total behind unequal splits and sequential
-- designs, unit attributes for breakdowns, the pre-period covariate for
-- CUPED, idempotent event ids for bulk imports, and alerts sent once.

ALTER TABLE experiments
    ADD COLUMN planned_total      bigint,
    ADD COLUMN fixed_total        bigint;

ALTER TABLE experiment_exposures
    ADD COLUMN device    text,
    ADD COLUMN channel   text,
    ADD COLUMN segment   text,
    -- the unit's value of the primary metric before the experiment (CUPED)
    ADD COLUMN covariate double precision;

ALTER TABLE experiment_events ADD COLUMN event_id text;
CREATE UNIQUE INDEX experiment_events_event_id_idx ON experiment_events (experiment_id, event_id)
    WHERE event_id IS NOT NULL;

ALTER TABLE experiments
    -- secondary metrics ("name:kind"), read but never blocking a winner
    ADD COLUMN secondary   text[] NOT NULL DEFAULT '{}',
    -- set by imports: exposures carry a covariate (CUPED) / dimensions
    ADD COLUMN covariates  boolean NOT NULL DEFAULT false,
    ADD COLUMN dimensions  boolean NOT NULL DEFAULT false;

-- The text a variation shows (its content version when it wins).
ALTER TABLE experiment_variations ADD COLUMN body text;
