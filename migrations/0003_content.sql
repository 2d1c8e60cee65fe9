-- Content lifecycle: items, every revision as a version, performance metrics.

CREATE TABLE content_items (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL,
    title            text NOT NULL,
    owner            text NOT NULL REFERENCES people(handle),
    channel          text NOT NULL,
    campaign         text REFERENCES campaigns(key),
    cost_cents       bigint NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
    state            text NOT NULL,
    version          integer NOT NULL DEFAULT 1,
    -- the version the latest completed approval covers
    approved_version integer,
    approval_id      bigint REFERENCES approval_requests(id),
    revision_rounds  integer NOT NULL DEFAULT 0,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_edit_at     timestamptz NOT NULL,
    published_at     timestamptz,
    archived_at      timestamptz
);
CREATE INDEX content_items_state_idx ON content_items (state);

CREATE TABLE content_versions (
    item_id     bigint NOT NULL REFERENCES content_items(id),
    version     integer NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    author      text NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (item_id, version)
);

CREATE TABLE content_metrics (
    id            bigserial PRIMARY KEY,
    item_id       bigint NOT NULL REFERENCES content_items(id),
    views         bigint NOT NULL CHECK (views >= 0),
    clicks        bigint NOT NULL CHECK (clicks >= 0 AND clicks <= views),
    conversions   bigint NOT NULL CHECK (conversions >= 0),
    revenue_cents bigint NOT NULL CHECK (revenue_cents >= 0),
    recorded_at   timestamptz NOT NULL,
    source        text NOT NULL DEFAULT 'manual'
);
CREATE INDEX content_metrics_item_idx ON content_metrics (item_id, recorded_at);
