-- Monitoring alerts to incidents, and Discord interactions remembered in the
-- database so a replayed request is refused across restarts and processes.

ALTER TABLE incidents DROP CONSTRAINT IF EXISTS incidents_source_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_source_check
    CHECK (source IN ('manual', 'kpi_trigger', 'privacy_breach', 'alert'));

-- One row per alert (its dedup key or fingerprint), pointing at the incident
-- it opened or joined.
CREATE TABLE crisis_alerts (
    dedup_key       text PRIMARY KEY,
    source          text NOT NULL,
    incident_id     bigint NOT NULL REFERENCES incidents (id),
    status          text NOT NULL CHECK (status IN ('firing', 'resolved')),
    summary         text NOT NULL,
    labels          jsonb NOT NULL DEFAULT '{}',
    first_fired_at  timestamptz NOT NULL,
    last_fired_at   timestamptz NOT NULL,
    resolved_at     timestamptz,
    fire_count      integer NOT NULL DEFAULT 1
);
CREATE INDEX crisis_alerts_incident ON crisis_alerts (incident_id, status);
CREATE INDEX crisis_alerts_source_recent ON crisis_alerts (source, first_fired_at);

CREATE TABLE discord_interactions_seen (
    interaction_id  text PRIMARY KEY,
    seen_at         timestamptz NOT NULL
);
CREATE INDEX discord_interactions_seen_at ON discord_interactions_seen (seen_at);
