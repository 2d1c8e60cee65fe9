-- One shape for every workflow: demo-data marks carry the workflow's name,
-- and the indexes the read models need, so no screen counts anything that
-- grows forever.

UPDATE seed_marks SET name = 'crisis' WHERE name = 'incidents';
UPDATE seed_marks SET name = 'journey' WHERE name = 'journeys';

-- Engine figures: failed timers, dead notifications, exhausted escalations.
CREATE INDEX timers_failed_idx ON timers (id) WHERE status = 'failed';
CREATE INDEX outbox_dead_idx ON outbox (id) WHERE status = 'dead';
CREATE INDEX escalations_exhausted_idx ON escalations (id) WHERE status = 'exhausted';
-- The latest escalation of an entity (control room, crisis board).
CREATE INDEX escalations_entity_idx ON escalations (workflow, entity_id, id);
-- Approvals still to decide, in deadline order, and an entity's requests.
CREATE INDEX approval_requests_open_idx ON approval_requests (deadline, id)
    WHERE status IN ('pending', 'escalated');
-- Exposures by time (the experiments tile counts the last day's).
CREATE INDEX experiment_exposures_time_idx ON experiment_exposures (exposed_at);
-- Journey: open tickets, recent orders, open lead hand-offs.
CREATE INDEX tickets_open_idx ON tickets (due_at) WHERE status = 'open';
CREATE INDEX orders_occurred_idx ON orders (occurred_at);
CREATE INDEX handoffs_workflow_open_idx ON handoffs (workflow, due_at) WHERE status <> 'completed';
CREATE INDEX handoffs_created_idx ON handoffs (workflow, created_at);
