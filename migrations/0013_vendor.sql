-- Vendor management: vendors, RFPs with weighted criteria and several
-- evaluators, proposals, contracts with notice dates, deliveries against
-- purchase orders, monthly scorecards and improvement plans.

CREATE TABLE vendor_vendors (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL,
    category         text NOT NULL,
    critical         boolean NOT NULL DEFAULT false,
    state            text NOT NULL,
    -- the latest overall score and its standing (from the monthly review)
    overall_score    double precision,
    standing         text,
    -- the privacy workflow's subject holding the contact's personal data
    contact_subject  text,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX vendor_vendors_name_idx ON vendor_vendors (lower(name));
CREATE INDEX vendor_vendors_state_idx ON vendor_vendors (state);

CREATE TABLE vendor_rfps (
    id            bigserial PRIMARY KEY,
    title         text NOT NULL,
    owner         text NOT NULL,
    requirements  text NOT NULL DEFAULT '',
    evaluators    text[] NOT NULL,
    due_at        timestamptz,
    state         text NOT NULL,
    approval_id   bigint REFERENCES approval_requests(id),
    awarded_vendor_id bigint REFERENCES vendor_vendors(id),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE vendor_rfp_criteria (
    rfp_id        bigint NOT NULL REFERENCES vendor_rfps(id),
    name          text NOT NULL,
    weight        integer NOT NULL CHECK (weight BETWEEN 0 AND 100),
    deal_breaker  boolean NOT NULL DEFAULT false,
    position      integer NOT NULL,
    PRIMARY KEY (rfp_id, name)
);

CREATE TABLE vendor_proposals (
    rfp_id        bigint NOT NULL REFERENCES vendor_rfps(id),
    vendor_id     bigint NOT NULL REFERENCES vendor_vendors(id),
    status        text NOT NULL,
    price_cents   bigint CHECK (price_cents >= 0),
    terms         text NOT NULL DEFAULT '',
    invited_at    timestamptz NOT NULL,
    proposed_at   timestamptz,
    PRIMARY KEY (rfp_id, vendor_id)
);

-- One evaluator's score of one criterion (0-10). No row: not scored.
CREATE TABLE vendor_rfp_scores (
    rfp_id        bigint NOT NULL,
    vendor_id     bigint NOT NULL,
    criterion     text NOT NULL,
    evaluator     text NOT NULL,
    score         double precision NOT NULL CHECK (score BETWEEN 0 AND 10),
    scored_at     timestamptz NOT NULL,
    PRIMARY KEY (rfp_id, vendor_id, criterion, evaluator),
    FOREIGN KEY (rfp_id, vendor_id) REFERENCES vendor_proposals(rfp_id, vendor_id)
);

-- The RFP owner's override of a consensus, with the reason.
CREATE TABLE vendor_rfp_overrides (
    rfp_id        bigint NOT NULL,
    vendor_id     bigint NOT NULL,
    criterion     text NOT NULL,
    score         double precision NOT NULL CHECK (score BETWEEN 0 AND 10),
    reason        text NOT NULL,
    by_person     text NOT NULL,
    at            timestamptz NOT NULL,
    PRIMARY KEY (rfp_id, vendor_id, criterion),
    FOREIGN KEY (rfp_id, vendor_id) REFERENCES vendor_proposals(rfp_id, vendor_id)
);

CREATE TABLE vendor_contracts (
    id              bigserial PRIMARY KEY,
    vendor_id       bigint NOT NULL REFERENCES vendor_vendors(id),
    rfp_id          bigint REFERENCES vendor_rfps(id),
    start_date      date NOT NULL,
    end_date        date NOT NULL CHECK (end_date >= start_date),
    monthly_cents   bigint NOT NULL CHECK (monthly_cents >= 0),
    value_cents     bigint NOT NULL CHECK (value_cents >= 0),
    auto_renew      boolean NOT NULL,
    notice          text NOT NULL,
    notice_date     date NOT NULL,
    -- the budget line its billing is committed to (budget workflow)
    department      text,
    channel         text,
    -- active, ending (notice given), renewed (superseded by the next term), ended
    status          text NOT NULL,
    -- renew, renegotiate, end: the Vendor & Partner director's decision
    decision        text,
    previous_id     bigint REFERENCES vendor_contracts(id),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX vendor_contracts_vendor_idx ON vendor_contracts (vendor_id, status);
CREATE INDEX vendor_contracts_notice_idx ON vendor_contracts (notice_date) WHERE status IN ('active', 'ending');

-- One receipt against a purchase order; a split order has several.
CREATE TABLE vendor_deliveries (
    id              bigserial PRIMARY KEY,
    vendor_id       bigint NOT NULL REFERENCES vendor_vendors(id),
    po              text NOT NULL,
    -- the original promise: what the statistics use
    promised_date   date NOT NULL,
    -- a later promise, recorded but not used by the statistics
    rescheduled_date date,
    delivered_date  date NOT NULL,
    ordered         bigint NOT NULL CHECK (ordered > 0),
    received        bigint NOT NULL CHECK (received >= 0),
    defective       bigint NOT NULL DEFAULT 0 CHECK (defective >= 0 AND defective <= received),
    amount_cents    bigint CHECK (amount_cents >= 0),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL
);
CREATE INDEX vendor_deliveries_vendor_idx ON vendor_deliveries (vendor_id, delivered_date);
CREATE INDEX vendor_deliveries_po_idx ON vendor_deliveries (vendor_id, po);

CREATE TABLE vendor_scorecards (
    vendor_id       bigint NOT NULL REFERENCES vendor_vendors(id),
    period          text NOT NULL,
    criteria        jsonb NOT NULL,
    period_score    double precision,
    overall_score   double precision,
    standing        text,
    kpis            jsonb NOT NULL,
    reviewer        text NOT NULL,
    reviewed_at     timestamptz NOT NULL,
    PRIMARY KEY (vendor_id, period)
);

CREATE TABLE vendor_plans (
    id              bigserial PRIMARY KEY,
    vendor_id       bigint NOT NULL REFERENCES vendor_vendors(id),
    -- open, deciding (failed, awaiting extend/end), met, extended, ended
    status          text NOT NULL,
    owner           text NOT NULL,
    period          text NOT NULL,
    period_score    double precision,
    targets         jsonb NOT NULL,
    deadline        timestamptz NOT NULL,
    approval_id     bigint REFERENCES approval_requests(id),
    outcome         text,
    created_at      timestamptz NOT NULL,
    closed_at       timestamptz
);
CREATE UNIQUE INDEX vendor_plans_one_open_idx ON vendor_plans (vendor_id)
    WHERE status IN ('open', 'deciding');

CREATE TABLE vendor_plan_checkins (
    id              bigserial PRIMARY KEY,
    plan_id         bigint NOT NULL REFERENCES vendor_plans(id),
    by_person       text NOT NULL,
    note            text NOT NULL,
    at              timestamptz NOT NULL
);
