-- Compliance & data privacy: data subjects, their PII sealed with per-subject
-- data keys (wrapped by a master key that never touches the database),
-- non-PII analytics in clear, an append-only access log, audits, findings,
-- retention actions, data-subject requests and personal-data breaches.

-- Master key versions: only a check value (an AES-GCM seal of a constant)
-- that proves a key from the environment is the right one.
CREATE TABLE privacy_master_keys (
    version     integer PRIMARY KEY CHECK (version >= 1),
    check_value bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    retired_at  timestamptz
);
CREATE UNIQUE INDEX privacy_master_keys_one_current ON privacy_master_keys ((true)) WHERE retired_at IS NULL;

CREATE TABLE privacy_subjects (
    id              bigserial PRIMARY KEY,
    -- the shop's pseudonymous customer reference, never PII itself
    ref             text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'erased')),
    created_at      timestamptz NOT NULL,
    created_by      text NOT NULL,
    erased_at       timestamptz,
    erased_by       text,
    erasure_request bigint
);

-- One data key per subject, stored only wrapped by the master key. Erasure
-- destroys it (crypto-shredding): the wrap is removed, the row remains as
-- the record that the key is gone.
CREATE TABLE privacy_data_keys (
    subject_id     bigint PRIMARY KEY REFERENCES privacy_subjects(id),
    key_version    integer NOT NULL DEFAULT 1,
    master_version integer REFERENCES privacy_master_keys(version),
    wrapped        bytea,
    created_at     timestamptz NOT NULL,
    rewrapped_at   timestamptz,
    destroyed_at   timestamptz,
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL)),
    CHECK ((wrapped IS NULL) = (master_version IS NULL))
);
CREATE INDEX privacy_data_keys_master_idx ON privacy_data_keys (master_version) WHERE wrapped IS NOT NULL;

-- PII, sealed. The row id is taken from the sequence before sealing because
-- it is part of the associated data: a ciphertext copied to another row fails.
CREATE SEQUENCE privacy_pii_id_seq;
CREATE TABLE privacy_pii (
    id           bigint PRIMARY KEY,
    subject_id   bigint NOT NULL REFERENCES privacy_subjects(id),
    field        text NOT NULL,
    category     text NOT NULL,
    ciphertext   bytea NOT NULL,
    key_version  integer NOT NULL,
    collected_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (subject_id, field)
);
CREATE INDEX privacy_pii_category_idx ON privacy_pii (category, collected_at);

-- Non-PII, in clear, for analytics. Unlinked from the subject on erasure.
CREATE TABLE privacy_analytics (
    id           bigserial PRIMARY KEY,
    subject_id   bigint REFERENCES privacy_subjects(id),
    field        text NOT NULL,
    category     text NOT NULL,
    value        text NOT NULL,
    collected_at timestamptz NOT NULL
);
CREATE INDEX privacy_analytics_subject_idx ON privacy_analytics (subject_id);
CREATE INDEX privacy_analytics_category_idx ON privacy_analytics (category, collected_at);

-- Every read of PII, granted or refused: who, what, why, when. Append-only.
CREATE TABLE privacy_access_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    subject_id  bigint REFERENCES privacy_subjects(id),
    subject_ref text NOT NULL,
    fields      text[] NOT NULL DEFAULT '{}',
    categories  text[] NOT NULL DEFAULT '{}',
    purpose     text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('granted', 'refused')),
    reason      text
);
CREATE INDEX privacy_access_log_actor_idx ON privacy_access_log (actor, at);
CREATE INDEX privacy_access_log_subject_idx ON privacy_access_log (subject_id, at);
CREATE INDEX privacy_access_log_at_idx ON privacy_access_log (at);
CREATE TRIGGER privacy_access_log_append_only
    BEFORE UPDATE OR DELETE ON privacy_access_log
    FOR EACH ROW EXECUTE FUNCTION vivid_refuse_change();
CREATE TRIGGER privacy_access_log_no_truncate
    BEFORE TRUNCATE ON privacy_access_log
    FOR EACH STATEMENT EXECUTE FUNCTION vivid_refuse_change();

CREATE TABLE privacy_audits (
    id            bigserial PRIMARY KEY,
    trigger       text NOT NULL CHECK (trigger IN ('scheduled', 'manual')),
    run_by        text NOT NULL,
    ran_at        timestamptz NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('compliant', 'findings')),
    checks        jsonb NOT NULL,
    -- the documentation record: what was checked and what was found
    documentation text NOT NULL
);
CREATE INDEX privacy_audits_ran_idx ON privacy_audits (ran_at);

CREATE TABLE privacy_findings (
    id          bigserial PRIMARY KEY,
    audit_id    bigint NOT NULL REFERENCES privacy_audits(id),
    kind        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    -- one open finding per ongoing condition; later audits see it again
    condition   text NOT NULL,
    person      text,
    subject_ref text,
    detail      text NOT NULL,
    facts       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    incident_id bigint REFERENCES incidents(id),
    opened_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    seen        integer NOT NULL DEFAULT 1,
    resolved_at timestamptz,
    resolved_by text,
    resolution  text
);
CREATE UNIQUE INDEX privacy_findings_one_open ON privacy_findings (condition) WHERE status = 'open';
CREATE INDEX privacy_findings_opened_idx ON privacy_findings (opened_at);

CREATE TABLE privacy_retention_actions (
    id          bigserial PRIMARY KEY,
    audit_id    bigint NOT NULL REFERENCES privacy_audits(id),
    category    text NOT NULL,
    store       text NOT NULL CHECK (store IN ('pii', 'analytics')),
    records     bigint NOT NULL,
    cutoff      timestamptz NOT NULL,
    at          timestamptz NOT NULL
);

CREATE TABLE privacy_requests (
    id               bigserial PRIMARY KEY,
    subject_id       bigint NOT NULL REFERENCES privacy_subjects(id),
    kind             text NOT NULL CHECK (kind IN ('access', 'rectification', 'erasure')),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'refused')),
    received_at      timestamptz NOT NULL,
    first_due_at     timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    extended_months  integer NOT NULL DEFAULT 0,
    extension_reason text,
    person_told_at   timestamptz,
    opened_by        text NOT NULL REFERENCES people(handle),
    note             text NOT NULL DEFAULT '',
    completed_at     timestamptz,
    completed_by     text REFERENCES people(handle),
    outcome          text,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX privacy_requests_open_idx ON privacy_requests (status, due_at);

CREATE TABLE privacy_breaches (
    id             bigserial PRIMARY KEY,
    incident_id    bigint NOT NULL REFERENCES incidents(id),
    finding_id     bigint REFERENCES privacy_findings(id),
    status         text NOT NULL CHECK (status IN ('assessing', 'notified', 'exempt', 'closing', 'closed')),
    title          text NOT NULL,
    aware_at       timestamptz NOT NULL,
    notify_by      timestamptz NOT NULL,
    notified_at    timestamptz,
    notified_by    text,
    late_reason    text,
    exempt_reason  text,
    nature         text,
    people_approx  bigint,
    records_approx bigint,
    contact_point  text,
    consequences   text,
    measures       text,
    phases         integer NOT NULL DEFAULT 0,
    approval_id    bigint REFERENCES approval_requests(id),
    opened_by      text NOT NULL,
    opened_at      timestamptz NOT NULL,
    closed_at      timestamptz,
    updated_at     timestamptz NOT NULL
);

-- What was added to a notification after it was first sent (GDPR Art. 33(4)).
CREATE TABLE privacy_breach_phases (
    breach_id   bigint NOT NULL REFERENCES privacy_breaches(id),
    phase       integer NOT NULL,
    info        jsonb NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (breach_id, phase)
);

CREATE TABLE privacy_breach_tasks (
    id          bigserial PRIMARY KEY,
    breach_id   bigint NOT NULL REFERENCES privacy_breaches(id),
    description text NOT NULL,
    owner       text NOT NULL REFERENCES people(handle),
    due_at      timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    done_at     timestamptz,
    done_by     text
);
CREATE INDEX privacy_breach_tasks_breach_idx ON privacy_breach_tasks (breach_id);
