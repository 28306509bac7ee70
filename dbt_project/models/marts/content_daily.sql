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
    {{ content_additive_measures() }},
    sum(user_minutes)::bigint as user_minutes,
    max(peak_minute_users)::bigint as peak_minute_users,
    sum(active_minutes)::bigint as active_minutes
from hours
group by 1, content_id, region
