{#-
  activation.stable_bucket(expression, salt) -> a SQL expression: an integer bucket 0..99 for a key, the same for the
  same key and salt in every run and on every engine (holdouts and rollouts stay put).

    bucket = int(first 8 hex digits of md5(salt || ':' || cast(expression as <string type>)), base 16) mod 100

  md5 gives 32 lower-case hex digits; the first 8 are read as an unsigned 32-bit big-endian integer (0 .. 2^32-1),
  then mod 100. A null expression gives a null bucket (never below a percent: not held out, not rolled out).
  In TypeScript: parseInt(createHash("md5").update(`${salt}:${key}`, "utf8").digest("hex").slice(0, 8), 16) % 100
  `salt` is a string (quoted here); `expression` is SQL (usually the key column).
-#}
{% macro stable_bucket(expression, salt) %}
  {{ return(adapter.dispatch('stable_bucket', 'activation')(expression, salt)) }}
{% endmacro %}

{% macro default__stable_bucket(expression, salt) -%}
  {%- set hashed = dbt.hash(dbt.concat([activation.sql_literal((salt | string) ~ ':'), activation.as_text(expression)])) -%}
  mod({{ activation.hex8_to_int("substr(" ~ hashed ~ ", 1, 8)") }}, 100)
{%- endmacro %}
