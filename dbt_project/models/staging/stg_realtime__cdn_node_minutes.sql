-- One row per edge node and minute; renames only.
select
    cdn_node,
    region,
    window_start as minute_start,
    requests,
    errors,
    ttfb_p95_ms
from {{ source('realtime', 'cdn_node_minute_stats') }}
