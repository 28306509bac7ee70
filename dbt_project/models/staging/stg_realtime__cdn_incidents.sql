-- One row per ended anomaly; renames only.
select
    anomaly_kind,
    subject,
    started_at,
    ended_at,
    bad_minutes,
    peak_value,
    severity
from {{ source('realtime', 'cdn_incidents') }}
