-- The journey's lead queue (leads handed to Sales, not yet contacted) reads
-- by this partial index instead of scanning every prospect.
CREATE INDEX prospects_waiting_idx ON prospects (handed_off_at, id) WHERE status = 'handed_off';
