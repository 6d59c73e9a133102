{#-
  activation.hex8_to_int(hex_expression) -> a SQL expression: the integer (0 .. 4294967295) that a string of exactly
  8 lower-case hex digits denotes, read as an unsigned big-endian number. Engine-specific where the engine can cast
  hex; the default spells the positional sum out, which any engine with `position(… in …)` and `substr` runs.
-#}
{% macro hex8_to_int(hex_expression) %}
  {{ return(adapter.dispatch('hex8_to_int', 'activation')(hex_expression)) }}
{% endmacro %}

{% macro default__hex8_to_int(hex_expression) -%}
  ({%- for i in range(8) %}
    {{ '+ ' if not loop.first }}cast({{ dbt.position("substr(" ~ hex_expression ~ ", " ~ (i + 1) ~ ", 1)", "'0123456789abcdef'") }} - 1 as {{ dbt.type_bigint() }}) * {{ 16 ** (7 - i) }}
  {%- endfor %})
{%- endmacro %}

{% macro postgres__hex8_to_int(hex_expression) -%}
  (('x' || {{ hex_expression }})::bit(32)::bigint)
{%- endmacro %}

{% macro duckdb__hex8_to_int(hex_expression) -%}
  cast('0x' || {{ hex_expression }} as bigint)
{%- endmacro %}

{% macro snowflake__hex8_to_int(hex_expression) -%}
  to_number({{ hex_expression }}, 'XXXXXXXX')
{%- endmacro %}

{% macro bigquery__hex8_to_int(hex_expression) -%}
  cast(concat('0x', {{ hex_expression }}) as int64)
{%- endmacro %}
