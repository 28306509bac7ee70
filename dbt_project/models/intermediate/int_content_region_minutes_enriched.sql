-- Region minutes with the catalog attributes the marts group by, and their UTC hour and day.
select
    m.content_id,
    m.region,
    m.minute_start,
    {{ utc_hour('m.minute_start') }} as hour_start,
    {{ utc_day('m.minute_start') }} as day,
    c.content_type,
    c.genre,
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
inner join {{ ref('stg_catalog__content') }} as c using (content_id)
