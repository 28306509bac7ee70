-- One row per content item and minute (all regions together); renames only.
select
    content_id,
    window_start as minute_start,
    events,
    downloads_started,
    downloads_completed,
    downloads_failed,
    streams_started,
    streams_ended,
    purchases,
    bytes_sent,
    distinct_users,
    ttfb_p95_ms
from {{ source('realtime', 'content_minute_stats') }}
