-- The day's trending leaderboard per region (and GLOBAL), with the rank change against the previous day.
with ranked as (
    select * from {{ ref('int_trending_items_ranked') }}
),

previous_day as (
    select
        day + 1 as day,
        region,
        content_id,
        rank_no as prev_rank_no
    from ranked
)

select
    r.day,
    r.region,
    r.rank_no::bigint as rank_no,
    r.content_id,
    c.title,
    c.content_type,
    r.score::double precision as score,
    r.windows_trending::bigint as windows_trending,
    r.best_window_rank::bigint as best_window_rank,
    p.prev_rank_no::bigint as prev_rank_no,
    (p.prev_rank_no - r.rank_no)::bigint as rank_change
from ranked as r
left join previous_day as p using (day, region, content_id)
left join {{ ref('stg_catalog__content') }} as c using (content_id)
where r.rank_no <= {{ var('trend_top_n') }}
