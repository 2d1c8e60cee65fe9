-- Customer journey. No personal data here: prospects are known by an
-- opaque key (their contact details live in the privacy vault).

CREATE TABLE prospects (
    id               bigserial PRIMARY KEY,
    key              text NOT NULL UNIQUE,
    segment          text NOT NULL,
    first_channel    text NOT NULL,
    last_channel     text NOT NULL,
    status           text NOT NULL CHECK (status IN ('prospect', 'handed_off', 'contacted', 'customer')),
    stage            text NOT NULL,
    score            double precision NOT NULL DEFAULT 0,
    score_at         timestamptz NOT NULL,
    clicks           integer NOT NULL DEFAULT 0,
    alerted          boolean NOT NULL DEFAULT false,
    referred_by      bigint REFERENCES prospects(id),
    handed_off_at    timestamptz,
    contacted_at     timestamptz,
    contacted_by     text,
    converted_at     timestamptz,
    created_at       timestamptz NOT NULL
);

CREATE TABLE touches (
    id              bigserial PRIMARY KEY,
    prospect_id     bigint NOT NULL REFERENCES prospects(id),
    channel         text NOT NULL,
    kind            text NOT NULL,
    points          integer NOT NULL,
    content_id      bigint REFERENCES content_items(id),
    idempotency_key text NOT NULL UNIQUE,
    occurred_at     timestamptz NOT NULL
);
CREATE INDEX touches_prospect_idx ON touches (prospect_id, occurred_at);

CREATE TABLE orders (
    id            bigserial PRIMARY KEY,
    prospect_id   bigint NOT NULL REFERENCES prospects(id),
    value_cents   bigint NOT NULL CHECK (value_cents > 0),
    first_channel text NOT NULL,
    last_channel  text NOT NULL,
    created_by    text NOT NULL,
    occurred_at   timestamptz NOT NULL
);

CREATE TABLE tickets (
    id           bigserial PRIMARY KEY,
    prospect_id  bigint NOT NULL REFERENCES prospects(id),
    subject      text NOT NULL,
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    due_at       timestamptz NOT NULL,
    breached     boolean NOT NULL DEFAULT false,
    opened_by    text NOT NULL,
    opened_at    timestamptz NOT NULL,
    resolved_by  text,
    resolved_at  timestamptz,
    resolution   text
);

CREATE TABLE feedback (
    id          bigserial PRIMARY KEY,
    prospect_id bigint NOT NULL REFERENCES prospects(id),
    nps         integer CHECK (nps BETWEEN 0 AND 10),
    csat        integer CHECK (csat BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '',
    given_at    timestamptz NOT NULL
);

CREATE TABLE journey_campaigns (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('upsell', 'cross_sell')),
    audience    bigint[] NOT NULL,
    content_id  bigint REFERENCES content_items(id),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
