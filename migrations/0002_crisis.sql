-- Crisis management: incidents, post-mortems and their action items.

CREATE TABLE incidents (
    id                  bigserial PRIMARY KEY,
    title               text NOT NULL,
    description         text NOT NULL DEFAULT '',
    severity            text NOT NULL CHECK (severity IN ('P1', 'P2', 'P3', 'P4')),
    source              text NOT NULL CHECK (source IN ('manual', 'kpi_trigger', 'privacy_breach')),
    source_ref          text,
    departments         text[] NOT NULL DEFAULT '{}',
    status              text NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved', 'closed')),
    phase               text NOT NULL,
    phase_started_at    timestamptz NOT NULL,
    ack_deadline        timestamptz NOT NULL,
    commander           text REFERENCES people(handle),
    scribe              text REFERENCES people(handle),
    liaison             text REFERENCES people(handle),
    opened_by           text NOT NULL,
    opened_at           timestamptz NOT NULL,
    acknowledged_by     text,
    acknowledged_at     timestamptz,
    resolved_by         text,
    resolved_at         timestamptz,
    closed_by           text,
    closed_at           timestamptz,
    last_progress_at    timestamptz NOT NULL,
    -- the KPI rule that opened it; one ongoing condition opens one incident
    trigger_key         text,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX incidents_one_per_condition
    ON incidents (trigger_key) WHERE trigger_key IS NOT NULL AND status IN ('triggered', 'acknowledged');
CREATE INDEX incidents_status_idx ON incidents (status, severity);
CREATE INDEX incidents_opened_idx ON incidents (opened_at);

CREATE TABLE incident_postmortems (
    incident_id          bigint PRIMARY KEY REFERENCES incidents(id),
    overview             text NOT NULL,
    what_happened        text NOT NULL,
    contributing_factors text NOT NULL,
    resolution           text NOT NULL,
    impact               text NOT NULL,
    written_by           text NOT NULL REFERENCES people(handle),
    written_at           timestamptz NOT NULL
);

CREATE TABLE incident_action_items (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents(id),
    description text NOT NULL,
    owner       text NOT NULL REFERENCES people(handle),
    due_at      timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    done_at     timestamptz
);
CREATE INDEX incident_action_items_incident_idx ON incident_action_items (incident_id);
