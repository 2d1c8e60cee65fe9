-- Leads Sales can act on (issue 19): the lead lifecycle MQL (handed_off) →
-- SQL (accepted) → opportunity (contacted) → customer, with disqualify and
-- recycle; a lead owner chosen by rule or round-robin; a fit score from
-- profile attributes beside the engagement score; the source campaign of a
-- touch; content targeted by segment and stage. Still no personal data:
-- contact details stay in the privacy vault and are read on demand.

ALTER TABLE prospects DROP CONSTRAINT IF EXISTS prospects_status_check;
ALTER TABLE prospects ADD CONSTRAINT prospects_status_check
    CHECK (status IN ('prospect', 'handed_off', 'accepted', 'contacted', 'customer', 'disqualified'));

ALTER TABLE prospects
    ADD COLUMN owner             text,
    ADD COLUMN region            text,
    ADD COLUMN attributes        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN source_campaign   text,
    ADD COLUMN fit               double precision NOT NULL DEFAULT 0,
    ADD COLUMN accepted_at       timestamptz,
    ADD COLUMN accepted_by       text,
    ADD COLUMN disqualified_at   timestamptz,
    ADD COLUMN disqualified_by   text,
    ADD COLUMN disqualify_reason text,
    ADD COLUMN recycled_at       timestamptz,
    ADD COLUMN recycles          integer NOT NULL DEFAULT 0;

-- A Sales member's open leads (routing capacity, `journey leads --for`).
CREATE INDEX prospects_owner_idx ON prospects (owner, status) WHERE owner IS NOT NULL;
-- Leads with Sales in any lifecycle state (the queues).
CREATE INDEX prospects_with_sales_idx ON prospects (status, handed_off_at, id)
    WHERE status IN ('handed_off', 'accepted', 'contacted', 'disqualified');

ALTER TABLE touches ADD COLUMN campaign text;

-- Round-robin: who got the last lead (one row).
CREATE TABLE journey_routing (
    id         integer PRIMARY KEY CHECK (id = 1),
    last_owner text
);
INSERT INTO journey_routing (id, last_owner) VALUES (1, NULL);

-- Content targeted at segments and stages (empty: any). The content item
-- itself stays the content workflow's; the journey only says whom it suits.
CREATE TABLE journey_content_targets (
    content_id bigint PRIMARY KEY REFERENCES content_items(id),
    segments   text[] NOT NULL DEFAULT '{}',
    stages     text[] NOT NULL DEFAULT '{}',
    set_by     text NOT NULL,
    set_at     timestamptz NOT NULL
);
