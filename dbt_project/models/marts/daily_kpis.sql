-- One row per UTC day: the platform's headline figures (content, CDN, data quality).
with content as (
    select
        d.day,
        sum(d.events)::bigint as events,
        sum(d.downloads_started)::bigint as downloads_started,
        sum(d.downloads_completed)::bigint as downloads_completed,
        sum(d.downloads_failed)::bigint as downloads_failed,
        sum(d.streams_started)::bigint as streams_started,
        sum(d.purchases)::bigint as purchases,
        coalesce(sum(d.purchases * c.price_usd_cents), 0)::bigint as list_value_usd_cents,
        sum(d.user_minutes)::bigint as user_minutes,
        count(distinct d.content_id) filter (where d.events > 0)::bigint as active_items,
        count(distinct d.region) filter (where d.events > 0)::bigint as active_regions
    from {{ ref('content_daily') }} as d
    left join {{ ref('stg_catalog__content') }} as c using (content_id)
    group by d.day
),

cdn as (
    select
        day,
        sum(requests)::bigint as cdn_requests,
        sum(errors)::bigint as cdn_errors,
        count(*) filter (where not slo_met)::bigint as cdn_nodes_missing_slo
    from {{ ref('cdn_sla_daily') }}
    group by day
),

anomalies as (
    select
        day,
        count(*)::bigint as cdn_anomalies,
        avg(time_to_detect_s) as mttd_s,
        avg(time_to_recover_s) as mttr_s
    from {{ ref('int_cdn_anomalies_joined') }}
    group by day
),

late as (
    select
        {{ utc_day('minute_start') }} as day,
        sum(late_events)::bigint as late_events
    from {{ ref('stg_realtime__late_event_minutes') }}
    group by 1
),

days as (
    select day from content
    union
    select day from cdn
    union
    select day from anomalies
    union
    select day from late
)

select
    days.day,
    coalesce(content.events, 0)::bigint as events,
    coalesce(content.downloads_started, 0)::bigint as downloads_started,
    coalesce(content.downloads_completed, 0)::bigint as downloads_completed,
    coalesce(content.downloads_failed, 0)::bigint as downloads_failed,
    {{ safe_ratio('content.downloads_completed', 'content.downloads_completed + content.downloads_failed') }}
        as download_success_rate,
    coalesce(content.streams_started, 0)::bigint as streams_started,
    coalesce(content.purchases, 0)::bigint as purchases,
    coalesce(content.list_value_usd_cents, 0)::bigint as list_value_usd_cents,
    coalesce(content.user_minutes, 0)::bigint as user_minutes,
    coalesce(content.active_items, 0)::bigint as active_items,
    coalesce(content.active_regions, 0)::bigint as active_regions,
    coalesce(cdn.cdn_requests, 0)::bigint as cdn_requests,
    coalesce(cdn.cdn_errors, 0)::bigint as cdn_errors,
    {{ safe_ratio('cdn.cdn_requests - cdn.cdn_errors', 'cdn.cdn_requests') }} as cdn_availability,
    coalesce(cdn.cdn_nodes_missing_slo, 0)::bigint as cdn_nodes_missing_slo,
    coalesce(anomalies.cdn_anomalies, 0)::bigint as cdn_anomalies,
    anomalies.mttd_s::double precision as mttd_s,
    anomalies.mttr_s::double precision as mttr_s,
    coalesce(late.late_events, 0)::bigint as late_events
from days
left join content using (day)
left join cdn using (day)
left join anomalies using (day)
left join late using (day)
