{#-
  Test activation.unique_key on a column (or key=... at model level): the grain. Every key is not null and appears
  once. Fails with one row per offending key: the key, `key_rows` (how many rows hold it) and `reason`.
-#}
{% test unique_key(model, column_name=none, key=none) %}
  {%- set key = key or column_name -%}
  {%- if not key -%}
    {{ exceptions.raise_compiler_error("activation.unique_key: put it on a column, or give `key`") }}
  {%- endif -%}
  {{ return(adapter.dispatch('test_unique_key', 'activation')(model, key)) }}
{% endtest %}

{% macro default__test_unique_key(model, key) %}
select
    {{ key }},
    count(*) as key_rows,
    case
        when {{ key }} is null then 'null key'
        else 'duplicate key'
    end as reason
from {{ model }}
group by {{ key }}
having count(*) > 1 or {{ key }} is null
{% endmacro %}
