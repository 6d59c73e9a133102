{#- Test expression_is_true(expression): every row satisfies it (integration_tests' stand-in for dbt_utils'). -#}
{% test expression_is_true(model, expression) %}
select *, 'expression is not true: ' || {{ activation.sql_literal(expression) }} as reason
from {{ model }}
where not ({{ expression }})
{% endtest %}
