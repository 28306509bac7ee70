-- Views shared by the queries of 10_insert_all.sql.

-- Every event, marked late when it arrives after the watermark has passed its event time.
-- CURRENT_WATERMARK is the watermark this operator has seen; the window operators downstream see
-- at most that one, so an event classified on time here is never dropped by a window there.
CREATE TEMPORARY VIEW classified_events AS
SELECT
    *,
    COALESCE(event_time < CURRENT_WATERMARK(event_time), FALSE) AS is_late
FROM content_events;

CREATE TEMPORARY VIEW on_time_events AS
SELECT * FROM classified_events WHERE NOT is_late;

-- CDN requests: events that fetched bytes from an edge node (downloads and stream starts).
CREATE TEMPORARY VIEW cdn_requests AS
SELECT * FROM on_time_events
WHERE event_type IN ('DOWNLOAD_COMPLETED', 'DOWNLOAD_FAILED', 'STREAM_STARTED');

-- Health per edge node per minute; window_time keeps event time for pattern matching.
CREATE TEMPORARY VIEW cdn_node_minutes AS
SELECT
    cdn_node,
    window_start,
    window_end,
    window_time,
    MAX(region) AS region,
    COUNT(*) AS requests,
    COUNT(error_code) AS errors,
    CAST(COUNT(error_code) AS DOUBLE) / COUNT(*) AS error_rate,
    PERCENTILE(ttfb_ms, 0.5) AS ttfb_p50_ms,
    PERCENTILE(ttfb_ms, 0.95) AS ttfb_p95_ms,
    AVG(CAST(NULLIF(throughput_kbps, 0) AS DOUBLE)) AS throughput_avg_kbps,
    SUM(bytes_sent) AS bytes_sent
FROM TABLE(TUMBLE(TABLE cdn_requests, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY cdn_node, window_start, window_end, window_time;

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

-- Per content item and region per minute: feeds its own table and, cascaded, trending.
CREATE TEMPORARY VIEW content_region_minutes AS
SELECT
    content_id,
    region,
    window_start AS minute_start,
    window_end AS minute_end,
    window_time AS minute_time,
    COUNT(*) AS events,
    COUNT(*) FILTER (WHERE event_type = 'DOWNLOAD_STARTED') AS downloads_started,
    COUNT(*) FILTER (WHERE event_type = 'DOWNLOAD_COMPLETED') AS downloads_completed,
    COUNT(*) FILTER (WHERE event_type = 'DOWNLOAD_FAILED') AS downloads_failed,
    COUNT(*) FILTER (WHERE event_type = 'STREAM_STARTED') AS streams_started,
    COUNT(*) FILTER (WHERE event_type = 'PURCHASE') AS purchases,
    SUM(price_minor) AS revenue_minor,
    MAX(currency) AS currency,
    COUNT(DISTINCT user_id) AS distinct_users
FROM TABLE(TUMBLE(TABLE on_time_events, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY content_id, region, window_start, window_end, window_time;

-- Trending candidates: 5-minute windows sliding every minute, cascaded over the minute counts
-- above (windows align to minutes, so the last two minutes of a window are whole minute rows).
-- The score rewards acceleration:
--   score = ln(1 + events) * (recent_per_min + 1) / (earlier_per_min + 1)
-- recent = the last 2 minutes of the window, earlier = the 3 minutes before (the trailing
-- baseline). A steady item scores ln(1 + volume); an item whose rate jumps scores that times its
-- acceleration. The +1 keeps a jump from 0 to 2 events from beating a jump from 100 to 1,000, and
-- the log keeps sheer volume from burying a fast riser. Items need 5 events in the window.
CREATE TEMPORARY VIEW trending_by_region AS
SELECT region AS trend_scope, window_start, window_end, content_id, events, recent_events, earlier_events,
       LN(1 + events) * (CAST(recent_events AS DOUBLE) / 2 + 1) / (CAST(earlier_events AS DOUBLE) / 3 + 1) AS score
FROM (
    SELECT window_start, window_end, region, content_id,
        SUM(events) AS events,
        COALESCE(SUM(events) FILTER (WHERE minute_start >= window_end - INTERVAL '2' MINUTE), 0) AS recent_events,
        COALESCE(SUM(events) FILTER (WHERE minute_start < window_end - INTERVAL '2' MINUTE), 0) AS earlier_events
    FROM TABLE(HOP(TABLE content_region_minutes, DESCRIPTOR(minute_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
    GROUP BY window_start, window_end, region, content_id
)
WHERE events >= 5;

CREATE TEMPORARY VIEW trending_global AS
SELECT 'GLOBAL' AS trend_scope, window_start, window_end, content_id, events, recent_events, earlier_events,
       LN(1 + events) * (CAST(recent_events AS DOUBLE) / 2 + 1) / (CAST(earlier_events AS DOUBLE) / 3 + 1) AS score
FROM (
    SELECT window_start, window_end, content_id,
        SUM(events) AS events,
        COALESCE(SUM(events) FILTER (WHERE minute_start >= window_end - INTERVAL '2' MINUTE), 0) AS recent_events,
        COALESCE(SUM(events) FILTER (WHERE minute_start < window_end - INTERVAL '2' MINUTE), 0) AS earlier_events
    FROM TABLE(HOP(TABLE content_region_minutes, DESCRIPTOR(minute_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
    GROUP BY window_start, window_end, content_id
)
WHERE events >= 5;
