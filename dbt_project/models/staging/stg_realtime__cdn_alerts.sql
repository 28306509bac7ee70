-- One row per detected anomaly; renames only.
select
    anomaly_kind,
    subject,
    region,
    started_at,
    detected_at,
    peak_value,
    severity
from {{ source('realtime', 'cdn_alerts') }}
