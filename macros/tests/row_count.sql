{#-
  Test activation.row_count(min_rows, max_rows=none): the model has at least `min_rows` rows (and at most `max_rows`
  when given): a model that suddenly produces almost nothing must not sync (or, in mirror mode, delete the rest).
  Fails with one row: row_count, the bounds and `reason`.
-#}
{% test row_count(model, min_rows=1, max_rows=none) %}
  {{ return(adapter.dispatch('test_row_count', 'activation')(model, min_rows, max_rows)) }}
{% endtest %}

{% macro default__test_row_count(model, min_rows, max_rows) %}
with counted as (
    select count(*) as row_count from {{ model }}
)

select
    row_count,
    {{ min_rows }} as min_rows,
    {{ max_rows if max_rows is not none else 'cast(null as ' ~ dbt.type_bigint() ~ ')' }} as max_rows,
    case
        when row_count < {{ min_rows }} then {{ activation.sql_literal('fewer rows than min_rows ' ~ min_rows) }}
        else {{ activation.sql_literal('more rows than max_rows ' ~ max_rows) }}
    end as reason
from counted
where row_count < {{ min_rows }}
    {%- if max_rows is not none %}
    or row_count > {{ max_rows }}
    {%- endif %}
{% endmacro %}
