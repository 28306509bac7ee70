{# Hour and day buckets in UTC whatever the session's time zone (date_trunc on timestamptz uses it). #}
{% macro utc_hour(ts) -%}
    (date_trunc('hour', {{ ts }} at time zone 'UTC') at time zone 'UTC')
{%- endmacro %}

{% macro utc_day(ts) -%}
    (({{ ts }}) at time zone 'UTC')::date
{%- endmacro %}

{# A UTC date as the timestamptz of its midnight. #}
{% macro utc_midnight(d) -%}
    (({{ d }})::timestamp at time zone 'UTC')
{%- endmacro %}

{# Share of a whole, null when the whole is zero (never a division by zero, never outside 0..1 for parts). #}
{% macro safe_ratio(part, whole) -%}
    ({{ part }})::double precision / nullif({{ whole }}, 0)
{%- endmacro %}
