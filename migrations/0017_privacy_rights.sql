-- Privacy as a data-protection officer practises it (issue 18): every
-- right, identity verification, four-eyes erasure, intake by e-mail through
-- a blind index, and Art. 33 breach records.

-- Art. 33(3)(a): the categories of people and of records concerned.
ALTER TABLE privacy_breaches ADD COLUMN categories text;

-- All six rights; received -> verifying -> verified -> in progress ->
-- completed | refused. Requests opened before verification existed were
-- being worked on: they count as verified.
ALTER TABLE privacy_requests DROP CONSTRAINT IF EXISTS privacy_requests_kind_check;
ALTER TABLE privacy_requests ADD CONSTRAINT privacy_requests_kind_check
    CHECK (kind IN ('access', 'rectification', 'erasure', 'restriction', 'portability', 'objection'));
ALTER TABLE privacy_requests DROP CONSTRAINT IF EXISTS privacy_requests_status_check;
UPDATE privacy_requests SET status = 'verified' WHERE status = 'open';
ALTER TABLE privacy_requests ALTER COLUMN status SET DEFAULT 'received';
ALTER TABLE privacy_requests ADD CONSTRAINT privacy_requests_status_check
    CHECK (status IN ('received', 'verifying', 'verified', 'in_progress', 'completed', 'refused'));
-- A request by an address nobody holds data on has no subject (the answer says so).
ALTER TABLE privacy_requests ALTER COLUMN subject_id DROP NOT NULL;
ALTER TABLE privacy_requests
    ADD COLUMN verified_at timestamptz,
    ADD COLUMN verified_by text REFERENCES people (handle),
    ADD COLUMN verification text,
    -- An erasure's second approver (four eyes), through the engine's approvals.
    ADD COLUMN approval_id bigint REFERENCES approval_requests (id);
DROP INDEX IF EXISTS privacy_requests_open_idx;
CREATE INDEX privacy_requests_open_idx ON privacy_requests (due_at)
    WHERE status NOT IN ('completed', 'refused');
CREATE INDEX privacy_requests_subject_idx ON privacy_requests (subject_id);

-- Intake by e-mail without the address in clear: keyed HMAC-SHA256 of the
-- normalised address (key derived from the master key version named).
-- Removed on erasure; rebuilt when the master key is rotated.
CREATE TABLE privacy_email_index (
    subject_id     bigint PRIMARY KEY REFERENCES privacy_subjects (id),
    blind_index    bytea NOT NULL CHECK (octet_length(blind_index) = 32),
    master_version integer NOT NULL REFERENCES privacy_master_keys (version)
);
CREATE INDEX privacy_email_index_lookup_idx ON privacy_email_index (blind_index);

-- Restriction (Art. 18) and objection to direct marketing (Art. 21).
ALTER TABLE privacy_subjects
    ADD COLUMN restricted_at timestamptz,
    ADD COLUMN objected_at timestamptz;
