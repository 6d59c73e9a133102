{#-
  activation.seconds_before(timestamp_expression, seconds) -> SQL: the timestamp `seconds` earlier, of the same type
  (dbt.dateadd on most engines; BigQuery's dateadd returns a DATETIME, which does not compare with a TIMESTAMP).
-#}
{% macro seconds_before(timestamp_expression, seconds) %}
  {{ return(adapter.dispatch('seconds_before', 'activation')(timestamp_expression, seconds)) }}
{% endmacro %}

{% macro default__seconds_before(timestamp_expression, seconds) -%}
  {{ dbt.dateadd('second', -seconds, timestamp_expression) | trim }}
{%- endmacro %}

{% macro bigquery__seconds_before(timestamp_expression, seconds) -%}
  timestamp_sub({{ timestamp_expression }}, interval {{ seconds }} second)
{%- endmacro %}
