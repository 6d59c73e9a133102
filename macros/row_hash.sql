{#-
  activation.row_hash(columns) -> a SQL expression: the row hash the syncer compares with its ledger.

    md5( v1 || US || v2 || US || … || vn )   as 32 lower-case hex digits

  where vi = cast(column_i as <string type>), or the null marker RS when the value is null, in the order given,
  US = chr(31) (ASCII unit separator) and RS = chr(30) (ASCII record separator). The same algorithm on every engine
  (md5 through dbt.hash), so the same text values hash the same on DuckDB, PostgreSQL, Snowflake and BigQuery; how
  an engine renders a non-text value as text (timestamps, floats) is the engine's. chr(0) would be a safer marker but
  PostgreSQL text cannot hold it. In TypeScript:
    md5(values.map((v) => v === null ? "\x1e" : String(v)).join("\x1f"))
-#}
{% macro row_hash(columns) %}
  {{ return(adapter.dispatch('row_hash', 'activation')(columns)) }}
{% endmacro %}

{% macro default__row_hash(columns) -%}
  {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
  {%- if columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("activation.row_hash: give at least one column") }}
  {%- endif -%}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- if not loop.first -%}{%- do parts.append(activation.ascii_char(31)) -%}{%- endif -%}
    {%- do parts.append("coalesce(" ~ activation.as_text(column) ~ ", " ~ activation.ascii_char(30) ~ ")") -%}
  {%- endfor -%}
  {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
