{#-
  Test equal_rows(expected, columns): the model and `expected` hold the same rows (as multisets), comparing the
  listed columns as text (expected-output seeds are text). Fails with one row per differing row: its values,
  actual_rows, expected_rows and `reason`. integration_tests' own stand-in for dbt_utils.equality (no hub access).
-#}
{% test equal_rows(model, expected, columns) %}
with actual_side as (
    select
        {% for column in columns -%}
        {{ activation.as_text(column) }} as {{ column }},
        {% endfor -%}
        1 as in_actual,
        0 as in_expected
    from {{ model }}
),

expected_side as (
    select
        {% for column in columns -%}
        {{ activation.as_text(column) }} as {{ column }},
        {% endfor -%}
        0 as in_actual,
        1 as in_expected
    from {{ expected }}
),

both_sides as (
    select * from actual_side
    union all
    select * from expected_side
)

select
    {% for column in columns -%}
    {{ column }},
    {% endfor -%}
    sum(in_actual) as actual_rows,
    sum(in_expected) as expected_rows,
    case when sum(in_actual) > sum(in_expected) then 'unexpected row' else 'missing row' end as reason
from both_sides
group by {{ columns | join(', ') }}
having sum(in_actual) <> sum(in_expected)
{% endtest %}
