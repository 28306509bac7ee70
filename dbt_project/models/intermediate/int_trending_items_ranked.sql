-- Each day's trending points per scope and item, ranked. A 5-minute window counts for the day of its
-- last minute; an item's points are the sum of its scores over the day's windows (strength times time
-- spent trending). Items outside every window's top N have no points that day.
with daily as (
    select
        {{ utc_day("window_end - interval '1 minute'") }} as day,
        trend_scope as region,
        content_id,
        sum(score) as score,
        count(*) as windows_trending,
        min(rank_no) as best_window_rank
    from {{ ref('stg_realtime__trending_windows') }}
    group by 1, 2, 3
)

select
    day,
    region,
    content_id,
    score,
    windows_trending,
    best_window_rank,
    row_number() over (
        partition by day, region order by score desc, windows_trending desc, content_id
    ) as rank_no
from daily
