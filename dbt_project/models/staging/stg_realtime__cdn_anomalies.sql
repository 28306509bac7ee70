-- One row per CDN anomaly; renames only. The alert/incident join is the view realtime.cdn_anomalies
-- (flink_jobs/postgres/001_realtime_schema.sql), the one definition the API and the dashboard read too.
select
    anomaly_kind,
    subject,
    region,
    started_at,
    detected_at,
    ended_at,
    state,
    peak_value,
    severity,
    bad_minutes
from {{ source('realtime', 'cdn_anomalies') }}
