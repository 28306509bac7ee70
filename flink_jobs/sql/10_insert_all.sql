-- All queries of the job, as one statement set: one source scan feeds every sink.
EXECUTE STATEMENT SET
BEGIN

-- 1-minute tumbling windows per content item.
INSERT INTO content_minute_stats
SELECT window_start, window_end, content_id, COUNT(*) AS event_count
FROM TABLE(TUMBLE(TABLE content_events, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, content_id;

END;
