-- All queries of the job, as one statement set: one scan of the topic feeds every sink.
EXECUTE STATEMENT SET
BEGIN

-- Content stats: 1-minute tumbling windows per content item (rows are weighed: 05_views.sql).
INSERT INTO content_minute_stats
SELECT content_id, window_start, window_end,
    SUM(weight),
    COALESCE(SUM(weight) FILTER (WHERE event_type = 'DOWNLOAD_STARTED'), 0),
    COALESCE(SUM(weight) FILTER (WHERE event_type = 'DOWNLOAD_COMPLETED'), 0),
    COALESCE(SUM(weight) FILTER (WHERE event_type = 'DOWNLOAD_FAILED'), 0),
    COALESCE(SUM(weight) FILTER (WHERE event_type = 'STREAM_STARTED'), 0),
    COALESCE(SUM(weight) FILTER (WHERE event_type = 'STREAM_ENDED'), 0),
    COALESCE(SUM(weight) FILTER (WHERE event_type = 'PURCHASE'), 0),
    SUM(weight * bytes_sent),
    COUNT(DISTINCT user_id),
    CAST(SUM(weight * ttfb_ms) FILTER (WHERE ttfb_ms <> 0) AS DOUBLE) / SUM(weight) FILTER (WHERE ttfb_ms <> 0),
    weighted_percentile(CAST(NULLIF(ttfb_ms, 0) AS DOUBLE), 0.95, weight)
FROM on_time_events
GROUP BY content_id, window_start, window_end, window_time;

-- ... and per content item and region (revenue is per region: one currency each).
INSERT INTO content_region_minute_stats
SELECT content_id, region, minute_start, minute_end, events, downloads_started, downloads_completed,
       downloads_failed, streams_started, purchases, revenue_minor, currency, distinct_users
FROM content_region_minutes;

-- Trending: top ${trending_top_n} per region and globally, per 5-minute window sliding every minute.
INSERT INTO trending
SELECT trend_scope, window_start, window_end, rank_no, content_id, events, recent_events, earlier_events, score
FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, trend_scope
                                 ORDER BY score DESC, content_id) AS rank_no
    FROM trending_by_region
)
WHERE rank_no <= ${trending_top_n};

INSERT INTO trending
SELECT trend_scope, window_start, window_end, rank_no, content_id, events, recent_events, earlier_events, score
FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY score DESC, content_id) AS rank_no
    FROM trending_global
)
WHERE rank_no <= ${trending_top_n};

-- CDN health per edge node per minute.
INSERT INTO cdn_node_minute_stats
SELECT cdn_node, window_start, window_end, region, requests, errors, error_rate, ttfb_p50_ms, ttfb_p95_ms,
       throughput_avg_kbps, bytes_sent
FROM cdn_node_minutes;

-- Anomalies: to PostgreSQL, and to the alerts topic for other consumers.
INSERT INTO cdn_alerts
SELECT anomaly_kind, subject, started_at, detected_at, region, peak_value, severity FROM anomalies_opened;

INSERT INTO cdn_incidents
SELECT anomaly_kind, subject, started_at, ended_at, region, bad_minutes, peak_value, severity FROM anomalies_resolved;

INSERT INTO cdn_alerts_topic
SELECT subject, anomaly_kind, 'OPEN', started_at, detected_at, region, peak_value, severity FROM anomalies_opened
UNION ALL
SELECT subject, anomaly_kind, 'RESOLVED', started_at, ended_at, region, peak_value, severity FROM anomalies_resolved;

-- Late events, one by one and per event-time minute.
INSERT INTO late_events
SELECT '${events_topic}', kafka_partition, kafka_offset, event_id, event_time, partition_clock
FROM classified_events
WHERE is_late;

INSERT INTO late_events_minute
SELECT CAST(FLOOR(event_time TO MINUTE) AS TIMESTAMP(3)), COUNT(*)
FROM classified_events
WHERE is_late
GROUP BY CAST(FLOOR(event_time TO MINUTE) AS TIMESTAMP(3));

-- Records that could not be decoded: kept, with the reason, instead of failing the job.
INSERT INTO dead_letters
SELECT kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, error, payload FROM undecodable_records;

END;
