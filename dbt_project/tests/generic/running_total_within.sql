{#
  A running-total invariant: per partition, in order, the sum of `part` so far never exceeds the sum of
  `whole` so far; the rows returned are where it does. For counts whose events follow others a while later
  (a download's outcome follows its start, maybe in the next hour), which bounds them at every grain even
  where one period's outcomes may outnumber the same period's starts.
#}
{% test running_total_within(model, part, whole, order_by, partition_by=[]) %}
select *
from (
    select
        {% for column in partition_by %}{{ column }}, {% endfor %}{{ order_by }},
        sum({{ part }}) over running as part_so_far,
        sum({{ whole }}) over running as whole_so_far
    from {{ model }}
    window running as (
        {% if partition_by %}partition by {{ partition_by | join(', ') }}{% endif %}
        order by {{ order_by }} rows between unbounded preceding and current row
    )
) totals
where part_so_far > whole_so_far
{% endtest %}
