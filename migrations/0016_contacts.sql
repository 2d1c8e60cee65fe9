-- Contact methods of staff (PagerDuty's model) and pages on the outbox.
--
-- A contact detail (address, number, topic URL, webhook URL) is personal
-- data: it is sealed with a data key of its own (AES-256-GCM), the key wrapped
-- by the master key (`privacy::crypto`); only a masked hint is stored in clear.
CREATE TABLE contact_methods (
    id              bigserial PRIMARY KEY,
    person          text NOT NULL REFERENCES people(handle),
    method          text NOT NULL CHECK (method IN ('discord', 'email', 'sms', 'push', 'webhook')),
    -- masked, safe to print ("m•••@example.com", "+•••••••4567")
    hint            text NOT NULL,
    -- NULL for discord (the person's Discord account from the org directory)
    master_version  integer,
    wrapped_key     bytea,
    sealed          bytea,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX contact_methods_person_idx ON contact_methods (person, method);

-- A page is an outbox row per method: which channel delivers it (NULL: the
-- default target, Discord or the log), which contact, which escalation level.
ALTER TABLE outbox ADD COLUMN channel text;
ALTER TABLE outbox ADD COLUMN contact_id bigint;
ALTER TABLE outbox ADD COLUMN escalation_id bigint;
ALTER TABLE outbox ADD COLUMN esc_level integer;
ALTER TABLE outbox ADD COLUMN esc_round integer;
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled'));
CREATE INDEX outbox_escalation_idx ON outbox (escalation_id, esc_round, esc_level)
    WHERE escalation_id IS NOT NULL;

-- high or low: which notification rules page the people it reaches.
ALTER TABLE escalations ADD COLUMN urgency text NOT NULL DEFAULT 'high'
    CHECK (urgency IN ('high', 'low'));
