{#-
  Test activation.null_rate: the share of null values per column stays at or under its threshold (0 .. 1).
  At model level with max_rates={column: rate, ...}; on a column with max_rate=rate. An empty model passes (no row
  is null; row_count guards emptiness). Fails with one row per column over its threshold: column, null_rows,
  total_rows, null_rate, max_rate and `reason`.
-#}
{% test null_rate(model, column_name=none, max_rate=none, max_rates=none) %}
  {%- set rates = {} -%}
  {%- if max_rates -%}{%- do rates.update(max_rates) -%}{%- endif -%}
  {%- if column_name and max_rate is not none -%}{%- do rates.update({column_name: max_rate}) -%}{%- endif -%}
  {%- if rates | length == 0 -%}
    {{ exceptions.raise_compiler_error("activation.null_rate: give max_rates {column: rate} or, on a column, max_rate") }}
  {%- endif -%}
  {{ return(adapter.dispatch('test_null_rate', 'activation')(model, rates)) }}
{% endtest %}

{% macro default__test_null_rate(model, rates) %}
with counts as (
    select
        count(*) as total_rows
        {%- for column in rates %},
        sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}
        {%- endfor %}
    from {{ model }}
),

rates as (
    {%- for column, rate in rates.items() %}
    select
        {{ activation.sql_literal(column) }} as column_name,
        nulls_{{ loop.index }} as null_rows,
        total_rows,
        {{ rate }} as max_rate
    from counts
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    column_name,
    null_rows,
    total_rows,
    round(null_rows * 1.0 / total_rows, 4) as null_rate,
    max_rate,
    {{ dbt.concat([activation.as_text('null_rows'), "' of '", activation.as_text('total_rows'), "' rows are null, more than the allowed share '", activation.as_text('max_rate')]) }} as reason
from rates
where total_rows > 0
    and null_rows > max_rate * total_rows
{% endmacro %}
