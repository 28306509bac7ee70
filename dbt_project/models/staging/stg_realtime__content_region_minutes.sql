-- One row per content item, region and minute; renames only.
select
    content_id,
    region,
    window_start as minute_start,
    events,
    downloads_started,
    downloads_completed,
    downloads_failed,
    streams_started,
    purchases,
    revenue_minor,
    currency,
    distinct_users
from {{ source('realtime', 'content_region_minute_stats') }}
