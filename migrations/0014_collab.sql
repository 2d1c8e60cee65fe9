-- Cross-functional collaboration on the engine's one hand-off mechanism:
-- the full lifecycle (open -> acknowledged -> in progress -> waiting on the
-- requester -> done | declined | cancelled), response and resolution SLA
-- clocks on the business calendar with pauses, the RACI and escalation
-- policy snapshotted at open, correlation ids, and a comment thread.

ALTER TABLE handoffs DROP CONSTRAINT IF EXISTS handoffs_status_check;
UPDATE handoffs SET status = 'done' WHERE status = 'completed';
ALTER TABLE handoffs ADD CONSTRAINT handoffs_status_check CHECK (status IN
    ('open', 'acknowledged', 'in_progress', 'waiting', 'done', 'declined', 'cancelled'));

ALTER TABLE handoffs
    -- Both clocks as the calendar's SlaClock (target, calendar, start, pauses).
    ADD COLUMN response_clock      jsonb,
    ADD COLUMN resolution_clock    jsonb,
    ADD COLUMN resolution_due_at   timestamptz,
    ADD COLUMN resolution_breached boolean NOT NULL DEFAULT false,
    ADD COLUMN imminent            boolean NOT NULL DEFAULT false,
    -- RACI people and the escalation policy, as the kind said at open.
    ADD COLUMN raci                jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN policy              text NOT NULL DEFAULT 'handoff-breach',
    ADD COLUMN correlation_id      text,
    ADD COLUMN started_at          timestamptz,
    ADD COLUMN waiting_since       timestamptz,
    ADD COLUMN paused_seconds      bigint NOT NULL DEFAULT 0,
    ADD COLUMN reason              text,
    -- Business seconds counted when the clocks stopped (for the matrix).
    ADD COLUMN response_seconds    bigint,
    ADD COLUMN resolution_seconds  bigint,
    ADD COLUMN closed_at           timestamptz;

UPDATE handoffs SET closed_at = completed_at WHERE status = 'done';
UPDATE handoffs SET response_seconds = extract(epoch FROM acknowledged_at - created_at)::bigint
 WHERE acknowledged_at IS NOT NULL;

CREATE TABLE handoff_comments (
    id          bigserial PRIMARY KEY,
    handoff_id  bigint NOT NULL REFERENCES handoffs(id),
    author      text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX handoff_comments_idx ON handoff_comments (handoff_id, id);

DROP INDEX IF EXISTS handoffs_workflow_open_idx;
CREATE INDEX handoffs_workflow_open_idx ON handoffs (workflow, due_at)
    WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting');
-- The queue and the matrix's open part.
CREATE INDEX handoffs_live_idx ON handoffs (to_department, due_at, id)
    WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting');
-- The matrix's closed part over a window.
CREATE INDEX handoffs_closed_idx ON handoffs (closed_at)
    WHERE status IN ('done', 'declined');
CREATE INDEX handoffs_correlation_idx ON handoffs (correlation_id) WHERE correlation_id IS NOT NULL;
