{#-
  activation.ascii_char(code) -> a SQL expression for the one-character string with that ASCII code.
  Used for the row hash's unit separator (31) and null marker (30), which have no portable literal.
-#}
{% macro ascii_char(code) %}
  {{ return(adapter.dispatch('ascii_char', 'activation')(code)) }}
{% endmacro %}

{% macro default__ascii_char(code) -%}
  chr({{ code }})
{%- endmacro %}

{% macro postgres__ascii_char(code) -%}
  chr({{ code }})
{%- endmacro %}

{% macro duckdb__ascii_char(code) -%}
  chr({{ code }})
{%- endmacro %}

{% macro snowflake__ascii_char(code) -%}
  char({{ code }})
{%- endmacro %}

{% macro bigquery__ascii_char(code) -%}
  code_points_to_string([{{ code }}])
{%- endmacro %}
