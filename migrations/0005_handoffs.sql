-- Hand-offs between departments with a response SLA, acknowledgement and
-- escalation on breach (the customer journey's lead hand-off, and every
-- typed hand-off of cross-functional collaboration).

CREATE TABLE handoffs (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    from_department text NOT NULL REFERENCES departments(key),
    to_department   text NOT NULL REFERENCES departments(key),
    workflow        text NOT NULL,
    entity_id       text NOT NULL,
    subject         text NOT NULL,
    assignee        text REFERENCES people(handle),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'completed')),
    due_at          timestamptz NOT NULL,
    breached        boolean NOT NULL DEFAULT false,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamptz,
    completed_by    text,
    completed_at    timestamptz
);
CREATE INDEX handoffs_open_idx ON handoffs (to_department, status);
CREATE INDEX handoffs_entity_idx ON handoffs (workflow, entity_id);
