-- One row per CDN anomaly (the view's alert/incident join, via staging) with what the marts derive from it.
select
    anomaly_kind,
    subject,
    case when anomaly_kind = 'REGIONAL_OUTAGE' then 'REGION' else 'NODE' end as subject_kind,
    region,
    started_at,
    {{ utc_day('started_at') }} as day,
    detected_at,
    ended_at,
    state,
    peak_value,
    severity,
    bad_minutes,
    extract(epoch from detected_at - started_at)::double precision as time_to_detect_s,
    extract(epoch from ended_at - started_at)::double precision as time_to_recover_s
from {{ ref('stg_realtime__cdn_anomalies') }}
