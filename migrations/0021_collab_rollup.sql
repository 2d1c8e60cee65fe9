-- The collaboration matrix's rollup: per edge (from -> to department) and
-- UTC day of closing, the closed hand-offs (done or declined; cancelled ones
-- stay out of the metrics), how many breached an SLA, and a histogram of
-- their business seconds to first response and to resolution in log buckets
-- (count, min and max per bucket, so percentiles are exact while a bucket
-- holds at most two values, and within one bucket's width beyond).
--
-- A statement trigger keeps it up to date in the transaction that closes a
-- hand-off (or inserts a closed one), so it is never behind and nothing is
-- lost on a crash. The matrix reads it for the whole days of its window and
-- the raw rows only for the partial days at either end.

-- The log bucket of a duration in seconds: 0 for none, then buckets 5% wide.
CREATE FUNCTION handoff_duration_bucket(seconds bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN seconds <= 0 THEN 0 ELSE floor(ln(seconds::float8) / ln(1.05))::integer + 1 END;

CREATE TABLE handoff_rollup (
    day             date NOT NULL,
    from_department text NOT NULL,
    to_department   text NOT NULL,
    closed          bigint NOT NULL,
    breached        bigint NOT NULL,
    PRIMARY KEY (day, from_department, to_department)
);

CREATE TABLE handoff_rollup_durations (
    day             date NOT NULL,
    from_department text NOT NULL,
    to_department   text NOT NULL,
    measure         text NOT NULL CHECK (measure IN ('response', 'resolution')),
    bucket          integer NOT NULL,
    count           bigint NOT NULL,
    min_seconds     bigint NOT NULL,
    max_seconds     bigint NOT NULL,
    PRIMARY KEY (day, from_department, to_department, measure, bucket)
);

-- Add the hand-offs a statement closed (made done or declined, with a
-- closing time) to the rollup. Rows already closed before the statement are
-- not counted twice.
CREATE FUNCTION handoff_rollup_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH closing AS (
            SELECT n.* FROM new_rows n
             WHERE n.status IN ('done', 'declined') AND n.closed_at IS NOT NULL),
        counts AS (
            INSERT INTO handoff_rollup AS r (day, from_department, to_department, closed, breached)
            SELECT (c.closed_at AT TIME ZONE 'UTC')::date, c.from_department, c.to_department, count(*),
                   count(*) FILTER (WHERE c.breached OR c.resolution_breached)
              FROM closing c GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (day, from_department, to_department) DO UPDATE
               SET closed = r.closed + EXCLUDED.closed, breached = r.breached + EXCLUDED.breached)
        INSERT INTO handoff_rollup_durations AS r
            (day, from_department, to_department, measure, bucket, count, min_seconds, max_seconds)
        SELECT (c.closed_at AT TIME ZONE 'UTC')::date, c.from_department, c.to_department, m.measure,
               handoff_duration_bucket(m.seconds), count(*), min(m.seconds), max(m.seconds)
          FROM closing c
         CROSS JOIN LATERAL (VALUES ('response', c.response_seconds), ('resolution', c.resolution_seconds))
               AS m(measure, seconds)
         WHERE m.seconds IS NOT NULL
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (day, from_department, to_department, measure, bucket) DO UPDATE
           SET count = r.count + EXCLUDED.count,
               min_seconds = least(r.min_seconds, EXCLUDED.min_seconds),
               max_seconds = greatest(r.max_seconds, EXCLUDED.max_seconds);
    ELSE
        WITH closing AS (
            SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE n.status IN ('done', 'declined') AND n.closed_at IS NOT NULL
               AND (o.status NOT IN ('done', 'declined') OR o.closed_at IS NULL)),
        counts AS (
            INSERT INTO handoff_rollup AS r (day, from_department, to_department, closed, breached)
            SELECT (c.closed_at AT TIME ZONE 'UTC')::date, c.from_department, c.to_department, count(*),
                   count(*) FILTER (WHERE c.breached OR c.resolution_breached)
              FROM closing c GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (day, from_department, to_department) DO UPDATE
               SET closed = r.closed + EXCLUDED.closed, breached = r.breached + EXCLUDED.breached)
        INSERT INTO handoff_rollup_durations AS r
            (day, from_department, to_department, measure, bucket, count, min_seconds, max_seconds)
        SELECT (c.closed_at AT TIME ZONE 'UTC')::date, c.from_department, c.to_department, m.measure,
               handoff_duration_bucket(m.seconds), count(*), min(m.seconds), max(m.seconds)
          FROM closing c
         CROSS JOIN LATERAL (VALUES ('response', c.response_seconds), ('resolution', c.resolution_seconds))
               AS m(measure, seconds)
         WHERE m.seconds IS NOT NULL
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (day, from_department, to_department, measure, bucket) DO UPDATE
           SET count = r.count + EXCLUDED.count,
               min_seconds = least(r.min_seconds, EXCLUDED.min_seconds),
               max_seconds = greatest(r.max_seconds, EXCLUDED.max_seconds);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER handoffs_rollup_insert AFTER INSERT ON handoffs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_rollup_add();
CREATE TRIGGER handoffs_rollup_update AFTER UPDATE ON handoffs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_rollup_add();

-- Back-fill from the hand-offs closed so far.
INSERT INTO handoff_rollup (day, from_department, to_department, closed, breached)
SELECT (closed_at AT TIME ZONE 'UTC')::date, from_department, to_department, count(*),
       count(*) FILTER (WHERE breached OR resolution_breached)
  FROM handoffs WHERE status IN ('done', 'declined') AND closed_at IS NOT NULL
 GROUP BY 1, 2, 3;
INSERT INTO handoff_rollup_durations
    (day, from_department, to_department, measure, bucket, count, min_seconds, max_seconds)
SELECT (c.closed_at AT TIME ZONE 'UTC')::date, c.from_department, c.to_department, m.measure,
       handoff_duration_bucket(m.seconds), count(*), min(m.seconds), max(m.seconds)
  FROM handoffs c
 CROSS JOIN LATERAL (VALUES ('response', c.response_seconds), ('resolution', c.resolution_seconds))
       AS m(measure, seconds)
 WHERE c.status IN ('done', 'declined') AND c.closed_at IS NOT NULL AND m.seconds IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5;
