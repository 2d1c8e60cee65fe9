-- On-call rules that hold, incident records that stay true, a simulator
-- that never touches real records.

-- An override replaced explicitly (`--replace`) or cancelled stays as a
-- record; only live overrides put anyone on call.
ALTER TABLE oncall_overrides
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN cancelled_by text,
    ADD COLUMN replaced_by  bigint REFERENCES oncall_overrides(id);
CREATE INDEX oncall_overrides_live_idx ON oncall_overrides (schedule, starts_at) WHERE cancelled_at IS NULL;

-- Who holds the incident now (the latest acknowledgement; cleared when it
-- is handed back). acknowledged_by/at stay the first acknowledgement (MTTA).
ALTER TABLE incidents
    ADD COLUMN responder      text REFERENCES people(handle),
    ADD COLUMN next_update_at timestamptz,
    -- Made by `vivid simulate`: the simulator acts on nothing else, and
    -- metrics leave these out unless asked.
    ADD COLUMN simulated      boolean NOT NULL DEFAULT false;
UPDATE incidents SET responder = acknowledged_by WHERE status = 'acknowledged';
