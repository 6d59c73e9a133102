{#-
  activation.sql_literal(value) -> a SQL literal: strings quoted (quotes escaped the engine's way), numbers as they
  are, booleans as true/false, none as null.
-#}
{% macro sql_literal(value) -%}
  {%- if value is none -%}
    null
  {%- elif value is sameas true or value is sameas false -%}
    {{ 'true' if value else 'false' }}
  {%- elif value is number -%}
    {{ value }}
  {%- else -%}
    {{ dbt.string_literal(dbt.escape_single_quotes(value | string)) }}
  {%- endif -%}
{%- endmacro %}

{#- activation.as_text(expression) -> cast(expression as the engine's string type). -#}
{% macro as_text(expression) -%}
  cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}
