-- The first `new_release_hours` UTC hours of every release, hour by hour (hour 0 is the release's own
-- hour), all regions together. Hours outside the real-time data's time range are left out rather than
-- shown as zero: no data there is not the same as no traffic.
with bounds as (
    select
        {{ utc_hour('min(minute_start)') }} as first_hour,
        {{ utc_hour('max(minute_start)') }} as last_hour
    from {{ ref('stg_realtime__content_minutes') }}
),

releases as (
    select
        c.content_id,
        c.title,
        c.content_type,
        c.genre,
        c.released_at,
        {{ utc_hour('c.released_at') }} as release_hour
    from {{ ref('stg_catalog__content') }} as c
    cross join bounds as b
    where {{ utc_hour('c.released_at') }} <= b.last_hour
      and {{ utc_hour('c.released_at') }} + interval '1 hour' * ({{ var('new_release_hours') }} - 1) >= b.first_hour
),

spine as (
    select
        r.*,
        h.hour_start
    from releases as r
    cross join bounds as b
    cross join lateral generate_series(
        greatest(r.release_hour, b.first_hour),
        least(r.release_hour + interval '1 hour' * ({{ var('new_release_hours') }} - 1), b.last_hour),
        interval '1 hour'
    ) as h (hour_start)
),

activity as (
    select
        m.content_id,
        {{ utc_hour('m.minute_start') }} as hour_start,
        sum(m.events) as events,
        sum(m.downloads_started) as downloads_started,
        sum(m.downloads_completed) as downloads_completed,
        sum(m.downloads_failed) as downloads_failed,
        sum(m.streams_started) as streams_started,
        sum(m.purchases) as purchases,
        sum(m.distinct_users) as user_minutes
    from {{ ref('stg_realtime__content_minutes') }} as m
    inner join releases as r using (content_id)
    where m.minute_start >= r.release_hour
      and m.minute_start < r.release_hour + interval '{{ var('new_release_hours') }} hours'
    group by 1, 2
)

select
    s.content_id,
    s.hour_start,
    (extract(epoch from s.hour_start - s.release_hour) / 3600)::bigint as hours_since_release,
    s.title,
    s.content_type,
    s.genre,
    s.released_at,
    coalesce(a.events, 0)::bigint as events,
    coalesce(a.downloads_started, 0)::bigint as downloads_started,
    coalesce(a.downloads_completed, 0)::bigint as downloads_completed,
    coalesce(a.downloads_failed, 0)::bigint as downloads_failed,
    coalesce(a.streams_started, 0)::bigint as streams_started,
    coalesce(a.purchases, 0)::bigint as purchases,
    coalesce(a.user_minutes, 0)::bigint as user_minutes,
    sum(coalesce(a.events, 0)) over (partition by s.content_id order by s.hour_start)::bigint
        as cumulative_events
from spine as s
left join activity as a using (content_id, hour_start)
