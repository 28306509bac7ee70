-- One row per scope, 5-minute window and rank; renames only.
select
    trend_scope,
    window_start,
    window_end,
    rank_no,
    content_id,
    events,
    score
from {{ source('realtime', 'trending') }}
