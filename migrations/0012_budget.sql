-- Budget management: periods, lines (department, optional channel and
-- campaign), spend requests, commitments, expenses, reported revenue,
-- spend reviews and reallocations. Money is integer cents.

CREATE TABLE budget_periods (
    key         text PRIMARY KEY,            -- '2026-11', '2026-Q4', '2026'
    kind        text NOT NULL,
    starts_on   date NOT NULL,               -- local dates [starts_on, ends_on)
    ends_on     date NOT NULL,
    state       text NOT NULL DEFAULT 'open',
    closed_by   text,
    closed_at   timestamptz,
    created_at  timestamptz NOT NULL
);

CREATE TABLE budget_lines (
    id              bigserial PRIMARY KEY,
    period          text NOT NULL REFERENCES budget_periods(key),
    department      text NOT NULL REFERENCES departments(key),
    channel         text NOT NULL DEFAULT '',   -- '' = the whole department
    campaign        text NOT NULL DEFAULT '',   -- '' = no campaign
    budget_cents    bigint NOT NULL CHECK (budget_cents >= 0),
    -- running totals, kept in the same transaction as each expense/commitment
    spent_cents     bigint NOT NULL DEFAULT 0,
    committed_cents bigint NOT NULL DEFAULT 0,
    hard            boolean NOT NULL DEFAULT false,
    rollover        text NOT NULL DEFAULT 'none',
    paused          boolean NOT NULL DEFAULT false,
    -- a change waiting for approval
    pending_cents   bigint,
    approval_id     bigint REFERENCES approval_requests(id),
    -- alarms now in ALARM ('actual:0.8', 'forecast:1')
    alarms          text[] NOT NULL DEFAULT '{}',
    -- the forecast as of mid-period (forecast accuracy KPI)
    mid_forecast_cents bigint,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (period, department, channel, campaign)
);

CREATE TABLE budget_requests (
    id            bigserial PRIMARY KEY,
    line_id       bigint NOT NULL REFERENCES budget_lines(id),
    ref           text NOT NULL UNIQUE,
    amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
    reason        text NOT NULL,
    requested_by  text NOT NULL,
    state         text NOT NULL,   -- pending, approved, denied
    approval_id   bigint REFERENCES approval_requests(id),
    created_at    timestamptz NOT NULL,
    decided_at    timestamptz
);
CREATE INDEX budget_requests_pending_idx ON budget_requests (id) WHERE state = 'pending';

CREATE TABLE budget_commitments (
    id              bigserial PRIMARY KEY,
    line_id         bigint NOT NULL REFERENCES budget_lines(id),
    ref             text NOT NULL UNIQUE,
    amount_cents    bigint NOT NULL CHECK (amount_cents >= 0),
    source_workflow text NOT NULL,
    source_entity   text NOT NULL,
    correlation_id  text,
    state           text NOT NULL DEFAULT 'open',   -- open, replaced
    created_at      timestamptz NOT NULL,
    replaced_at     timestamptz
);

CREATE TABLE budget_expenses (
    id            bigserial PRIMARY KEY,
    line_id       bigint NOT NULL REFERENCES budget_lines(id),
    ref           text NOT NULL UNIQUE,
    spent_on      date NOT NULL,
    campaign      text NOT NULL DEFAULT '',
    vendor        text NOT NULL DEFAULT '',
    amount_cents  bigint NOT NULL CHECK (amount_cents >= 0),
    source        text NOT NULL DEFAULT 'manual',
    recorded_by   text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX budget_expenses_line_idx ON budget_expenses (line_id, amount_cents DESC);
CREATE INDEX budget_expenses_campaign_idx ON budget_expenses (campaign, spent_on) WHERE campaign <> '';

CREATE TABLE budget_revenue (
    id            bigserial PRIMARY KEY,
    campaign      text NOT NULL,
    ref           text NOT NULL UNIQUE,
    earned_on     date NOT NULL,
    amount_cents  bigint NOT NULL CHECK (amount_cents >= 0),
    recorded_by   text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX budget_revenue_campaign_idx ON budget_revenue (campaign, earned_on);

CREATE TABLE budget_reviews (
    id            bigserial PRIMARY KEY,
    line_id       bigint NOT NULL REFERENCES budget_lines(id),
    state         text NOT NULL,   -- open, approved, adjusted, reallocated, denied, escalated
    approval_id   bigint REFERENCES approval_requests(id),
    inputs        jsonb NOT NULL,
    deadline      timestamptz NOT NULL,
    opened_at     timestamptz NOT NULL,
    decided_at    timestamptz,
    decided_by    text,
    reason        text
);
CREATE INDEX budget_reviews_open_idx ON budget_reviews (id) WHERE state IN ('open', 'escalated');

CREATE TABLE budget_reallocations (
    id            bigserial PRIMARY KEY,
    from_line     bigint NOT NULL REFERENCES budget_lines(id),
    to_line       bigint NOT NULL REFERENCES budget_lines(id),
    amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
    reason        text NOT NULL,
    inputs        jsonb NOT NULL,
    state         text NOT NULL,   -- pending, applied, denied
    proposed_by   text NOT NULL,
    approver      text,
    approval_id   bigint REFERENCES approval_requests(id),
    created_at    timestamptz NOT NULL,
    decided_at    timestamptz
);
CREATE INDEX budget_reallocations_pending_idx ON budget_reallocations (id) WHERE state = 'pending';
