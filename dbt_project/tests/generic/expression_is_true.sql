{# A row-level invariant: the rows returned are the ones that break it. #}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
