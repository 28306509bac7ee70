-- Content performance per item, region and UTC hour. Incremental: each run recomputes the hours from
-- `lookback_hours` before the newest one, so real-time rows that arrive or change late are picked up.
{{
    config(
        materialized='incremental',
        unique_key=['content_id', 'region', 'hour_start'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with minutes as (
    select *
    from {{ ref('int_content_region_minutes_enriched') }}
    {% if is_incremental() %}
        where minute_start >= (
            select coalesce(max(hour_start), '-infinity'::timestamptz) from {{ this }}
        ) - interval '{{ var("lookback_hours") }} hours'
    {% endif %}
)

select
    hour_start,
    content_id,
    region,
    max(content_type) as content_type,
    max(genre) as genre,
    sum(events)::bigint as events,
    sum(downloads_started)::bigint as downloads_started,
    sum(downloads_completed)::bigint as downloads_completed,
    sum(downloads_failed)::bigint as downloads_failed,
    {{ safe_ratio('sum(downloads_completed)', 'sum(downloads_completed) + sum(downloads_failed)') }}
        as download_success_rate,
    sum(streams_started)::bigint as streams_started,
    sum(purchases)::bigint as purchases,
    sum(revenue_minor)::bigint as revenue_minor,
    max(currency) as currency,
    sum(distinct_users)::bigint as user_minutes,
    max(distinct_users)::bigint as peak_minute_users,
    count(*)::bigint as active_minutes
from minutes
group by hour_start, content_id, region
