{#-
  Test activation.allowed_values(values, quote=true) on a column: every non-null value is one of `values` (nulls are
  null_rate's business). Fails with one row per offending value: the value, `value_rows` and `reason`.
-#}
{% test allowed_values(model, column_name, values, quote=true) %}
  {{ return(adapter.dispatch('test_allowed_values', 'activation')(model, column_name, values, quote)) }}
{% endtest %}

{% macro default__test_allowed_values(model, column_name, values, quote) %}
{%- if values | length == 0 -%}
  {{ exceptions.raise_compiler_error("activation.allowed_values: give at least one value") }}
{%- endif %}
select
    {{ column_name }} as value,
    count(*) as value_rows,
    {{ activation.sql_literal('not one of: ' ~ (values | join(', '))) }} as reason
from {{ model }}
where {{ column_name }} is not null
    and {{ column_name }} not in (
        {%- for value in values -%}
        {{ activation.sql_literal(value | string) if quote else value }}{{ ', ' if not loop.last }}
        {%- endfor -%}
    )
group by {{ column_name }}
{% endmacro %}
