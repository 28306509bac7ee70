-- One row per event-time minute that received late events; renames only.
select
    event_minute as minute_start,
    late_events
from {{ source('realtime', 'late_events_minute') }}
