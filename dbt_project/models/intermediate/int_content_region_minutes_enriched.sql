-- Region minutes with the catalog attributes the marts group by, and their UTC hour and day. A left join:
-- an id the catalog does not know (yet) keeps its counts, as type and genre UNKNOWN (relationships tests warn).
select
    m.content_id,
    m.region,
    m.minute_start,
    {{ utc_hour('m.minute_start') }} as hour_start,
    {{ utc_day('m.minute_start') }} as day,
    coalesce(c.content_type, 'UNKNOWN') as content_type,
    coalesce(c.genre, 'UNKNOWN') as genre,
    c.price_usd_cents,
    m.events,
    m.downloads_started,
    m.downloads_completed,
    m.downloads_failed,
    m.streams_started,
    m.purchases,
    m.revenue_minor,
    m.currency,
    m.distinct_users
from {{ ref('stg_realtime__content_region_minutes') }} as m
left join {{ ref('stg_catalog__content') }} as c using (content_id)
