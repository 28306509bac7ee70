-- CDN service level per edge node and UTC day against the objectives in dbt_project.yml, with the
-- node's anomalies (counted on the day they started), time to detect and time to recover.
with minutes as (
    select
        {{ utc_day('minute_start') }} as day,
        cdn_node,
        region,
        requests,
        errors,
        ttfb_p95_ms
    from {{ ref('stg_realtime__cdn_node_minutes') }}
),

daily as (
    select
        day,
        cdn_node,
        max(region) as region,
        sum(requests)::bigint as requests,
        sum(errors)::bigint as errors,
        count(*) filter (where requests > 0)::bigint as minutes_with_traffic,
        percentile_cont(0.95) within group (order by ttfb_p95_ms) as ttfb_p95_ms,
        count(*) filter (where ttfb_p95_ms > {{ var('sla_ttfb_p95_objective_ms') }})::bigint
            as minutes_over_ttfb_objective
    from minutes
    group by day, cdn_node
),

node_anomalies as (
    select
        day,
        subject as cdn_node,
        count(*)::bigint as incidents,
        count(*) filter (where state = 'OPEN')::bigint as open_incidents,
        avg(time_to_detect_s) as mttd_s,
        avg(time_to_recover_s) as mttr_s
    from {{ ref('int_cdn_anomalies_joined') }}
    where subject_kind = 'NODE'
    group by day, subject
),

regional_outages as (
    select
        day,
        region,
        count(*)::bigint as regional_outages
    from {{ ref('int_cdn_anomalies_joined') }}
    where subject_kind = 'REGION'
    group by day, region
)

select
    d.day,
    d.cdn_node,
    d.region,
    d.requests,
    d.errors,
    {{ safe_ratio('d.requests - d.errors', 'd.requests') }} as availability,
    {{ var('sla_availability_objective') }}::double precision as availability_objective,
    d.ttfb_p95_ms::double precision as ttfb_p95_ms,
    {{ var('sla_ttfb_p95_objective_ms') }}::double precision as ttfb_p95_objective_ms,
    d.minutes_with_traffic,
    d.minutes_over_ttfb_objective,
    coalesce(
        {{ safe_ratio('d.requests - d.errors', 'd.requests') }} >= {{ var('sla_availability_objective') }}
        and d.ttfb_p95_ms <= {{ var('sla_ttfb_p95_objective_ms') }},
        false
    ) as slo_met,
    coalesce(a.incidents, 0)::bigint as incidents,
    coalesce(a.open_incidents, 0)::bigint as open_incidents,
    a.mttd_s::double precision as mttd_s,
    a.mttr_s::double precision as mttr_s,
    coalesce(r.regional_outages, 0)::bigint as regional_outages
from daily as d
left join node_anomalies as a using (day, cdn_node)
left join regional_outages as r using (day, region)
