-- Foundation: organisation, the shared engine (event log, timers, outbox,
-- approvals, escalations, on-call overrides) and business metrics.

CREATE TABLE departments (
    key         text PRIMARY KEY,
    name        text NOT NULL,
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE people (
    handle      text PRIMARY KEY,
    name        text NOT NULL,
    department  text NOT NULL REFERENCES departments(key),
    roles       text[] NOT NULL DEFAULT '{}',
    discord_id  text UNIQUE,
    email       text,
    active      boolean NOT NULL DEFAULT true
);

-- The append-only event log: one row per state change of any workflow.
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    workflow    text NOT NULL,
    entity_type text NOT NULL,
    entity_id   text NOT NULL,
    action      text NOT NULL,
    from_state  text,
    to_state    text,
    actor       text NOT NULL,
    reason      text,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_entity_idx ON events (workflow, entity_id, id);
CREATE INDEX events_occurred_idx ON events (occurred_at);

CREATE FUNCTION vivid_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION vivid_refuse_change();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION vivid_refuse_change();

-- Timers are rows. Due work is claimed with FOR UPDATE SKIP LOCKED; firing and
-- the state change it causes commit in one transaction.
CREATE TABLE timers (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    workflow    text NOT NULL,
    entity_id   text NOT NULL,
    -- a timer is unique per (kind, workflow, entity, dedupe_key) while pending
    dedupe_key  text NOT NULL DEFAULT '',
    due_at      timestamptz NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'fired', 'cancelled', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL,
    fired_at    timestamptz,
    fired_by    text
);
CREATE INDEX timers_due_idx ON timers (due_at) WHERE status = 'pending';
CREATE UNIQUE INDEX timers_pending_unique
    ON timers (kind, workflow, entity_id, dedupe_key) WHERE status = 'pending';
CREATE INDEX timers_entity_idx ON timers (workflow, entity_id);

-- The outbox: notifications queued in the same transaction as the change that
-- caused them, delivered by the engine with retries.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    recipient_kind  text NOT NULL CHECK (recipient_kind IN ('person', 'director', 'department', 'channel')),
    recipient       text NOT NULL,
    -- resolved person handle (for person and director recipients), for routing
    person          text,
    subject         text NOT NULL,
    body            text NOT NULL,
    workflow        text NOT NULL,
    entity_id       text NOT NULL,
    severity        text NOT NULL DEFAULT 'info',
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key      text UNIQUE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    delivered_via   text
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE status = 'pending';

-- Shared approvals.
CREATE TABLE approval_requests (
    id              bigserial PRIMARY KEY,
    workflow        text NOT NULL,
    entity_id       text NOT NULL,
    subject_version integer NOT NULL DEFAULT 1,
    title           text NOT NULL,
    requested_by    text NOT NULL REFERENCES people(handle),
    eligible_roles  text[] NOT NULL,
    required        integer NOT NULL CHECK (required >= 1),
    -- at least one approval must come from a holder of one of these roles
    must_include    text[] NOT NULL DEFAULT '{}',

    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected', 'changes_requested', 'escalated', 'cancelled')),
    deadline        timestamptz NOT NULL,
    escalate_to     text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    decided_at      timestamptz
);
CREATE INDEX approval_requests_entity_idx ON approval_requests (workflow, entity_id);
CREATE INDEX approval_requests_pending_idx ON approval_requests (status, deadline);

CREATE TABLE approval_decisions (
    id          bigserial PRIMARY KEY,
    request_id  bigint NOT NULL REFERENCES approval_requests(id),
    approver    text NOT NULL REFERENCES people(handle),
    decision    text NOT NULL CHECK (decision IN ('approve', 'reject', 'request_changes')),
    comment     text NOT NULL,
    decided_at  timestamptz NOT NULL,
    UNIQUE (request_id, approver)
);

-- Shared escalations: ordered levels notified while nobody has acknowledged.
CREATE TABLE escalations (
    id              bigserial PRIMARY KEY,
    workflow        text NOT NULL,
    entity_id       text NOT NULL,
    subject         text NOT NULL,
    policy          jsonb NOT NULL,
    -- departments concerned (for "concerned:ROLE" targets)
    departments     text[] NOT NULL DEFAULT '{}',

    level           integer NOT NULL DEFAULT -1,
    round           integer NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'acknowledged', 'exhausted', 'cancelled')),
    acknowledged_by text,
    started_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX escalations_active_unique ON escalations (workflow, entity_id) WHERE status = 'active';

-- On-call overrides; rotations live in config.
CREATE TABLE oncall_overrides (
    id          bigserial PRIMARY KEY,
    schedule    text NOT NULL,
    person      text NOT NULL REFERENCES people(handle),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX oncall_overrides_idx ON oncall_overrides (schedule, starts_at);

-- Business metric readings (revenue, orders, ROAS, sentiment, ...).
CREATE TABLE metric_readings (
    id          bigserial PRIMARY KEY,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL,
    source      text NOT NULL DEFAULT 'manual'
);
CREATE INDEX metric_readings_idx ON metric_readings (metric, recorded_at DESC);

-- Catalogue used by several workflows.
CREATE TABLE products (
    sku         text PRIMARY KEY,
    title       text NOT NULL,
    collection  text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    stock       integer NOT NULL DEFAULT 0,
    critical    boolean NOT NULL DEFAULT false
);

CREATE TABLE campaigns (
    key         text PRIMARY KEY,
    name        text NOT NULL,
    channel     text NOT NULL,
    department  text NOT NULL REFERENCES departments(key),
    starts_on   date NOT NULL,
    ends_on     date
);

-- Which engine processes are alive (for status).
CREATE TABLE engine_workers (
    worker      text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);

-- Which parts of the demo data set are loaded (seeding is idempotent).
CREATE TABLE seed_marks (
    name        text PRIMARY KEY,
    applied_at  timestamptz NOT NULL
);
