-- Per-channel rate limits ([notify] rate_per_minute) shared by every engine
-- process: one token bucket per channel, taken from atomically by the
-- delivery of each batch of pages.
CREATE TABLE notify_rate_buckets (
    channel  text PRIMARY KEY,
    -- tokens left after the last take (refilled at rate/60 per second, up to rate)
    tokens   double precision NOT NULL,
    -- when the bucket was last taken from
    at       timestamptz NOT NULL,
    -- how many pages the last take let through
    granted  bigint NOT NULL DEFAULT 0
);
