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
    {{ content_additive_measures() }},
    sum(distinct_users)::bigint as user_minutes,
    max(distinct_users)::bigint as peak_minute_users,
    count(*)::bigint as active_minutes
from minutes
group by hour_start, content_id, region
