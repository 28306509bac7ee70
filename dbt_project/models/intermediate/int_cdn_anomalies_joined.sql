-- One row per CDN anomaly: its alert joined with its incident row once it has ended.
select
    a.anomaly_kind,
    a.subject,
    case when a.anomaly_kind = 'REGIONAL_OUTAGE' then 'REGION' else 'NODE' end as subject_kind,
    a.region,
    a.started_at,
    {{ utc_day('a.started_at') }} as day,
    a.detected_at,
    i.ended_at,
    case when i.ended_at is null then 'OPEN' else 'RESOLVED' end as state,
    coalesce(i.peak_value, a.peak_value) as peak_value,
    coalesce(i.severity, a.severity) as severity,
    i.bad_minutes,
    extract(epoch from a.detected_at - a.started_at)::double precision as time_to_detect_s,
    extract(epoch from i.ended_at - a.started_at)::double precision as time_to_recover_s
from {{ ref('stg_realtime__cdn_alerts') }} as a
left join {{ ref('stg_realtime__cdn_incidents') }} as i using (anomaly_kind, subject, started_at)
