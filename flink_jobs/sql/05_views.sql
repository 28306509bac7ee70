-- Views shared by the queries of 10_insert_all.sql.

-- Lateness is decided by each Kafka partition's own clock, kept in checkpointed state: an event is late
-- when the highest event time its partition had delivered up to and including it, minus the watermark
-- delay, had reached the end of its minute window. That depends only on the order of records within
-- their partition, which Kafka keeps: no crash, restore, rescale or backlog changes it, and the
-- reconciliation recomputes it exactly. The job's watermark (the minimum over partitions, never ahead
-- of any partition's clock) only fires windows, so an event called on time here is never dropped by a
-- window there, and one called late is counted in the late tables instead (docs/operations.md).
-- The on-time and the late queries read one clock: the runner registers classified_events from a Table
-- (runner.SHARED_VIEWS). Expanded into each query, the two paths pruned different columns and the planner
-- built two OVER aggregates, each with its own shuffle of every event. The CAST drops the clock's rowtime
-- attribute, which the planner cannot carry through a shared Table. Only the columns the queries read are
-- kept: every one of them crosses the shuffle.
CREATE TEMPORARY VIEW clocked_events AS
SELECT event_id, event_type, event_time, content_id, user_id, region, cdn_node, bytes_sent, ttfb_ms, throughput_kbps,
    error_code, price_minor, currency, kafka_partition, kafka_offset,
    CAST(MAX(event_time) OVER (PARTITION BY kafka_partition ORDER BY proc_time
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS TIMESTAMP(3)) AS partition_clock
FROM content_events;

-- A window [start, end) has fired once the watermark reaches end - 1 ms (Flink's window operators).
CREATE TEMPORARY VIEW classified_events AS
SELECT *,
    CAST(FLOOR(event_time TO MINUTE) AS TIMESTAMP(3)) + INTERVAL '1' MINUTE - INTERVAL '0.001' SECOND
        <= partition_clock - INTERVAL '${watermark_delay_s}' SECOND AS is_late
FROM clocked_events;

-- Client retries (the same event_id sent again) count once in their minute window. Instead of holding
-- every row until its minute closes and releasing the minute at once (a window deduplication: every table
-- then waited for the whole minute to pass through it), each on-time copy is counted as it arrives, with
-- weight 1, and at the close each retry comes back once with weight -1: the copies of an event_id after
-- its first (retry_surplus, a Java aggregate, flink_jobs/udf). Every aggregate below weighs its rows, so
-- each figure is that of the first copies. The surplus rows carry the minute's window_time, and the window
-- operator emits them before it passes the watermark on, so the windows below always have them before
-- they close. The detector groups the minute's events by a bucket of their id: it keeps only the ids of
-- the open minute, with one timer per bucket (not per event), and only the ~1% of retries travel after
-- the close.
-- The detector keeps each retry's columns as one ROW; its type is spelled out in RetrySurplus.EVENT too.
-- The runner registers surplus_copies from a Table (runner.SHARED_VIEWS): every query reads one detector and
-- one UNNEST. Each query then has its own union of the on-time events and the retries, pruned to the columns
-- it reads: the union's reader is a task of its own (it has two inputs), and only those columns cross to it.
CREATE TEMPORARY SYSTEM FUNCTION weighted_percentile AS 'io.streampulse.flink.WeightedPercentile' LANGUAGE JAVA;
CREATE TEMPORARY SYSTEM FUNCTION retry_surplus AS 'io.streampulse.flink.RetrySurplus' LANGUAGE JAVA;

CREATE TEMPORARY VIEW on_time_arrivals AS
SELECT event_id, event_time, event_type, content_id, user_id, region, cdn_node, bytes_sent, ttfb_ms,
       throughput_kbps, error_code, price_minor, currency
FROM classified_events WHERE NOT is_late;

CREATE TEMPORARY VIEW on_time_candidates AS
SELECT event_id, MOD(event_id, 256) AS id_bucket, event_time,
       ROW(event_type, content_id, user_id, region, cdn_node, bytes_sent, ttfb_ms, throughput_kbps, error_code,
           price_minor, currency) AS e
FROM on_time_arrivals;

CREATE TEMPORARY VIEW retries_by_bucket AS
SELECT window_time, retry_surplus(event_id, e) AS retries
FROM TABLE(TUMBLE(TABLE on_time_candidates, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, window_time, id_bucket;

CREATE TEMPORARY VIEW surplus_copies AS
SELECT window_time AS event_time, CAST(-1 AS BIGINT) AS weight, event_type, content_id, user_id, region, cdn_node,
       bytes_sent, ttfb_ms, throughput_kbps, error_code, price_minor, currency
FROM retries_by_bucket CROSS JOIN UNNEST(retries) AS r (event_type, content_id, user_id, region, cdn_node,
    bytes_sent, ttfb_ms, throughput_kbps, error_code, price_minor, currency);

CREATE TEMPORARY VIEW weighted_events AS
SELECT event_time, CAST(1 AS BIGINT) AS weight, event_type, content_id, user_id, region, cdn_node, bytes_sent,
       ttfb_ms, throughput_kbps, error_code, price_minor, currency
FROM on_time_arrivals
UNION ALL
SELECT * FROM surplus_copies;

CREATE TEMPORARY VIEW on_time_events AS
SELECT * FROM TABLE(TUMBLE(TABLE weighted_events, DESCRIPTOR(event_time), INTERVAL '1' MINUTE));

-- CDN requests: events that fetched bytes from an edge node (downloads and stream starts).
CREATE TEMPORARY VIEW cdn_requests AS
SELECT * FROM on_time_events
WHERE event_type IN ('DOWNLOAD_COMPLETED', 'DOWNLOAD_FAILED', 'STREAM_STARTED');

-- Health per edge node per minute; window_time keeps event time for pattern matching.
-- The figures travel as one ROW: the sink, the anomalies and the region roll-up each read different columns,
-- and with plain columns the planner pruned each reader's set into an aggregate of its own over every
-- request (two before this). With the ROW there is one, and its readers share it.
CREATE TEMPORARY VIEW cdn_node_minute_rows AS
SELECT
    cdn_node,
    window_start,
    window_end,
    window_time,
    ROW(MAX(region),
        SUM(weight),
        COALESCE(SUM(weight) FILTER (WHERE error_code IS NOT NULL), 0),
        weighted_percentile(CAST(ttfb_ms AS DOUBLE), 0.5, weight),
        weighted_percentile(CAST(ttfb_ms AS DOUBLE), 0.95, weight),
        CAST(SUM(weight * throughput_kbps) FILTER (WHERE throughput_kbps <> 0) AS DOUBLE)
            / SUM(weight) FILTER (WHERE throughput_kbps <> 0),
        SUM(weight * bytes_sent)) AS m
FROM cdn_requests
GROUP BY cdn_node, window_start, window_end, window_time;

CREATE TEMPORARY VIEW cdn_node_minutes AS
SELECT cdn_node, window_start, window_end, window_time,
    m.EXPR$$0 AS region, m.EXPR$$1 AS requests, m.EXPR$$2 AS errors,
    CAST(m.EXPR$$2 AS DOUBLE) / m.EXPR$$1 AS error_rate, m.EXPR$$3 AS ttfb_p50_ms, m.EXPR$$4 AS ttfb_p95_ms,
    m.EXPR$$5 AS throughput_avg_kbps, m.EXPR$$6 AS bytes_sent
FROM cdn_node_minute_rows;

-- Health per region per minute: a roll-up of the node minutes (a cascaded window), not a second
-- pass over the events.
CREATE TEMPORARY VIEW cdn_node_minute_counts AS
SELECT region, requests, errors, window_time AS minute_time FROM cdn_node_minutes;

CREATE TEMPORARY VIEW cdn_region_minutes AS
SELECT
    region,
    window_start,
    window_end,
    window_time,
    SUM(requests) AS requests,
    CAST(SUM(errors) AS DOUBLE) / SUM(requests) AS error_rate
FROM TABLE(TUMBLE(TABLE cdn_node_minute_counts, DESCRIPTOR(minute_time), INTERVAL '1' MINUTE))
GROUP BY region, window_start, window_end, window_time;

-- Per content item and region per minute: feeds its own table and, cascaded, trending. One ROW again, so
-- that trending (which reads only `events`) shares the table's aggregate instead of having its own.
CREATE TEMPORARY VIEW content_region_minute_rows AS
SELECT
    content_id,
    region,
    window_start AS minute_start,
    window_end AS minute_end,
    window_time AS minute_time,
    ROW(SUM(weight),
        COALESCE(SUM(weight) FILTER (WHERE event_type = 'DOWNLOAD_STARTED'), 0),
        COALESCE(SUM(weight) FILTER (WHERE event_type = 'DOWNLOAD_COMPLETED'), 0),
        COALESCE(SUM(weight) FILTER (WHERE event_type = 'DOWNLOAD_FAILED'), 0),
        COALESCE(SUM(weight) FILTER (WHERE event_type = 'STREAM_STARTED'), 0),
        COALESCE(SUM(weight) FILTER (WHERE event_type = 'PURCHASE'), 0),
        SUM(weight * price_minor),
        MAX(currency),
        COUNT(DISTINCT user_id)) AS m
FROM on_time_events
GROUP BY content_id, region, window_start, window_end, window_time;

CREATE TEMPORARY VIEW content_region_minutes AS
SELECT content_id, region, minute_start, minute_end, minute_time,
    m.EXPR$$0 AS events, m.EXPR$$1 AS downloads_started, m.EXPR$$2 AS downloads_completed,
    m.EXPR$$3 AS downloads_failed, m.EXPR$$4 AS streams_started, m.EXPR$$5 AS purchases, m.EXPR$$6 AS revenue_minor, m.EXPR$$7 AS currency,
    m.EXPR$$8 AS distinct_users
FROM content_region_minute_rows;

-- Trending candidates: 5-minute windows sliding every minute, cascaded over the minute counts
-- above (windows align to minutes, so the last two minutes of a window are whole minute rows).
-- The score rewards acceleration:
--   score = ln(1 + events) * (recent_per_min + 1) / (earlier_per_min + 1)
-- recent = the last 2 minutes of the window, earlier = the 3 minutes before (the trailing
-- baseline). A steady item scores ln(1 + volume); an item whose rate jumps scores that times its
-- acceleration. The +1 keeps a jump from 0 to 2 events from beating a jump from 100 to 1,000, and
-- the log keeps sheer volume from burying a fast riser. Items need 5 events in the window.
-- The aggregate does not read the window's end: each minute row is added once, to its minute, and a window
-- merges its five minutes when it fires. The last two minutes are looked up in events_by_minute afterwards
-- (flink_jobs/udf, EventsByMinute: why).
CREATE TEMPORARY SYSTEM FUNCTION events_by_minute AS 'io.streampulse.flink.EventsByMinute' LANGUAGE JAVA;

CREATE TEMPORARY VIEW trending_by_region AS
SELECT region AS trend_scope, window_start, window_end, content_id, events, recent_events,
       events - recent_events AS earlier_events,
       LN(1 + events) * (CAST(recent_events AS DOUBLE) / 2 + 1) / (CAST(events - recent_events AS DOUBLE) / 3 + 1)
           AS score
FROM (
    SELECT window_start, window_end, region, content_id, events,
        COALESCE(by_minute[window_end - INTERVAL '1' MINUTE], 0)
            + COALESCE(by_minute[window_end - INTERVAL '2' MINUTE], 0) AS recent_events
    FROM (
        SELECT window_start, window_end, region, content_id,
            SUM(events) AS events, events_by_minute(minute_start, events) AS by_minute
        FROM TABLE(HOP(TABLE content_region_minutes, DESCRIPTOR(minute_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
        GROUP BY window_start, window_end, region, content_id
    )
)
WHERE events >= 5;

CREATE TEMPORARY VIEW trending_global AS
SELECT 'GLOBAL' AS trend_scope, window_start, window_end, content_id, events, recent_events,
       events - recent_events AS earlier_events,
       LN(1 + events) * (CAST(recent_events AS DOUBLE) / 2 + 1) / (CAST(events - recent_events AS DOUBLE) / 3 + 1)
           AS score
FROM (
    SELECT window_start, window_end, content_id, events,
        COALESCE(by_minute[window_end - INTERVAL '1' MINUTE], 0)
            + COALESCE(by_minute[window_end - INTERVAL '2' MINUTE], 0) AS recent_events
    FROM (
        SELECT window_start, window_end, content_id,
            SUM(events) AS events, events_by_minute(minute_start, events) AS by_minute
        FROM TABLE(HOP(TABLE content_region_minutes, DESCRIPTOR(minute_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
        GROUP BY window_start, window_end, content_id
    )
)
WHERE events >= 5;
