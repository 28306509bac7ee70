-- Content performance per item, region and UTC day, rolled up from content_hourly. Incremental with a
-- lookback of `lookback_days` days before the newest one.
{{
    config(
        materialized='incremental',
        unique_key=['content_id', 'region', 'day'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with hours as (
    select *
    from {{ ref('content_hourly') }}
    {% if is_incremental() %}
        where hour_start >= {{ utc_midnight(
            "(select coalesce(max(day) - " ~ var('lookback_days') ~ ", '-infinity'::date) from " ~ this ~ ")"
        ) }}
    {% endif %}
)

select
    {{ utc_day('hour_start') }} as day,
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
    sum(user_minutes)::bigint as user_minutes,
    max(peak_minute_users)::bigint as peak_minute_users,
    sum(active_minutes)::bigint as active_minutes
from hours
group by 1, content_id, region
