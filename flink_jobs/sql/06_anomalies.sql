-- Anomalies by pattern matching over the per-minute CDN health streams (MATCH_RECOGNIZE).
--
-- A minute is "bad" for a subject when it has at least ${min_requests} requests (less is too
-- little evidence) and:
--   ERROR_RATE       (edge node) error rate >= ${error_rate_threshold}
--   LATENCY          (edge node) p95 time to first byte >= ${latency_p95_threshold_ms} ms
--   REGIONAL_OUTAGE  (region)    error rate of all the region's nodes >= ${regional_error_rate_threshold}
-- Three consecutive bad minutes make one anomaly. Two patterns per kind:
--   *_opened:   G B{3}       emitted at the third bad minute (an alert within 3 minutes of the start);
--                            the leading good minute G keeps a continuing incident from re-alerting.
--   *_resolved: G B{3,} E    emitted at the first good minute after it, with start, end, peak.
-- Both carry the same key (kind, subject, started_at), which ties an alert to its incident.

-- Each minute judged once; the patterns below only refer to these flags.
CREATE TEMPORARY VIEW cdn_node_minutes_judged AS
SELECT *,
    COALESCE(requests >= ${min_requests} AND error_rate >= ${error_rate_threshold}, FALSE) AS error_bad,
    COALESCE(requests >= ${min_requests} AND ttfb_p95_ms >= ${latency_p95_threshold_ms}, FALSE) AS latency_bad
FROM cdn_node_minutes;

CREATE TEMPORARY VIEW cdn_region_minutes_judged AS
SELECT *,
    COALESCE(requests >= ${min_requests} AND error_rate >= ${regional_error_rate_threshold}, FALSE) AS outage_bad
FROM cdn_region_minutes;

CREATE TEMPORARY VIEW node_error_opened AS
SELECT * FROM cdn_node_minutes_judged MATCH_RECOGNIZE (
    PARTITION BY cdn_node ORDER BY window_time
    MEASURES FIRST(B.window_start) AS started_at, LAST(B.window_end) AS detected_at,
             LAST(B.region) AS region, MAX(B.error_rate) AS peak_value
    ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
    PATTERN (G B{3})
    DEFINE
        B AS B.error_bad,
        G AS NOT G.error_bad
);

CREATE TEMPORARY VIEW node_error_resolved AS
SELECT * FROM cdn_node_minutes_judged MATCH_RECOGNIZE (
    PARTITION BY cdn_node ORDER BY window_time
    MEASURES FIRST(B.window_start) AS started_at, LAST(B.window_end) AS ended_at, COUNT(B.cdn_node) AS bad_minutes,
             LAST(B.region) AS region, MAX(B.error_rate) AS peak_value
    ONE ROW PER MATCH AFTER MATCH SKIP TO LAST E
    PATTERN (G B{3,} E)
    DEFINE
        B AS B.error_bad,
        G AS NOT G.error_bad,
        E AS NOT E.error_bad
);

CREATE TEMPORARY VIEW node_latency_opened AS
SELECT * FROM cdn_node_minutes_judged MATCH_RECOGNIZE (
    PARTITION BY cdn_node ORDER BY window_time
    MEASURES FIRST(B.window_start) AS started_at, LAST(B.window_end) AS detected_at,
             LAST(B.region) AS region, MAX(B.ttfb_p95_ms) AS peak_value
    ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
    PATTERN (G B{3})
    DEFINE
        B AS B.latency_bad,
        G AS NOT G.latency_bad
);

CREATE TEMPORARY VIEW node_latency_resolved AS
SELECT * FROM cdn_node_minutes_judged MATCH_RECOGNIZE (
    PARTITION BY cdn_node ORDER BY window_time
    MEASURES FIRST(B.window_start) AS started_at, LAST(B.window_end) AS ended_at, COUNT(B.cdn_node) AS bad_minutes,
             LAST(B.region) AS region, MAX(B.ttfb_p95_ms) AS peak_value
    ONE ROW PER MATCH AFTER MATCH SKIP TO LAST E
    PATTERN (G B{3,} E)
    DEFINE
        B AS B.latency_bad,
        G AS NOT G.latency_bad,
        E AS NOT E.latency_bad
);

CREATE TEMPORARY VIEW region_outage_opened AS
SELECT * FROM cdn_region_minutes_judged MATCH_RECOGNIZE (
    PARTITION BY region ORDER BY window_time
    MEASURES FIRST(B.window_start) AS started_at, LAST(B.window_end) AS detected_at,
             MAX(B.error_rate) AS peak_value
    ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
    PATTERN (G B{3})
    DEFINE
        B AS B.outage_bad,
        G AS NOT G.outage_bad
);

CREATE TEMPORARY VIEW region_outage_resolved AS
SELECT * FROM cdn_region_minutes_judged MATCH_RECOGNIZE (
    PARTITION BY region ORDER BY window_time
    MEASURES FIRST(B.window_start) AS started_at, LAST(B.window_end) AS ended_at, COUNT(B.region) AS bad_minutes,
             MAX(B.error_rate) AS peak_value
    ONE ROW PER MATCH AFTER MATCH SKIP TO LAST E
    PATTERN (G B{3,} E)
    DEFINE
        B AS B.outage_bad,
        G AS NOT G.outage_bad,
        E AS NOT E.outage_bad
);

-- One stream each for opened and resolved anomalies, with a severity from the peak:
-- error rates >= 50% / 25% are CRITICAL / MAJOR; p95 latencies >= 2 s / 1 s likewise; else MINOR.
CREATE TEMPORARY VIEW anomalies_opened AS
SELECT 'ERROR_RATE' AS anomaly_kind, cdn_node AS subject, started_at, detected_at, region, peak_value,
       CASE WHEN peak_value >= 0.5 THEN 'CRITICAL' WHEN peak_value >= 0.25 THEN 'MAJOR' ELSE 'MINOR' END AS severity
FROM node_error_opened
UNION ALL
SELECT 'LATENCY', cdn_node, started_at, detected_at, region, peak_value,
       CASE WHEN peak_value >= 2000 THEN 'CRITICAL' WHEN peak_value >= 1000 THEN 'MAJOR' ELSE 'MINOR' END
FROM node_latency_opened
UNION ALL
SELECT 'REGIONAL_OUTAGE', region, started_at, detected_at, region, peak_value,
       CASE WHEN peak_value >= 0.6 THEN 'CRITICAL' ELSE 'MAJOR' END
FROM region_outage_opened;

CREATE TEMPORARY VIEW anomalies_resolved AS
SELECT 'ERROR_RATE' AS anomaly_kind, cdn_node AS subject, started_at, ended_at, region, bad_minutes, peak_value,
       CASE WHEN peak_value >= 0.5 THEN 'CRITICAL' WHEN peak_value >= 0.25 THEN 'MAJOR' ELSE 'MINOR' END AS severity
FROM node_error_resolved
UNION ALL
SELECT 'LATENCY', cdn_node, started_at, ended_at, region, bad_minutes, peak_value,
       CASE WHEN peak_value >= 2000 THEN 'CRITICAL' WHEN peak_value >= 1000 THEN 'MAJOR' ELSE 'MINOR' END
FROM node_latency_resolved
UNION ALL
SELECT 'REGIONAL_OUTAGE', region, started_at, ended_at, region, bad_minutes, peak_value,
       CASE WHEN peak_value >= 0.6 THEN 'CRITICAL' ELSE 'MAJOR' END
FROM region_outage_resolved;
