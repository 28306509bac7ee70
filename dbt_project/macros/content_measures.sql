{#- The content measures that add up from minutes to hours to days: the hourly and daily marts share them,
    so a measure is defined once and both grains stay in step. -#}
{% macro content_additive_measures() -%}
    max(content_type) as content_type,
    max(genre) as genre,
    sum(events)::bigint as events,
    sum(downloads_started)::bigint as downloads_started,
    sum(downloads_completed)::bigint as downloads_completed,
    sum(downloads_failed)::bigint as downloads_failed,
    {{ safe_ratio('sum(downloads_completed)', 'sum(downloads_completed) + sum(downloads_failed)') }}
        as download_success_rate,
    sum(streams_started)::bigint as streams_started,
    sum(purchases)::bigint as purchases,
    sum(revenue_minor)::bigint as revenue_minor,
    max(currency) as currency
{%- endmacro %}
