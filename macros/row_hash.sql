{#-
  activation.row_hash(columns) -> a SQL expression: the row hash the syncer compares with its ledger.

    md5( e1 || US || e2 || US || … || en )   as 32 lower-case hex digits

  where ei = cast(column_i as <string type>) with GS, US and RS escaped (GS -> GS GS, US -> GS 'u', RS -> GS 'r'),
  or the null marker RS when the value is null, in the order given; GS = chr(29), US = chr(31) (ASCII unit
  separator), RS = chr(30) (ASCII record separator). The escape makes the hash collision-free on data: a value that
  holds a separator or the null marker cannot pass for two values or for null. Values without those characters are
  unchanged by it (so DuckDB skips it for rows that hold none of them: duckdb__row_hash below, the same hash). The
  same algorithm on every engine (md5 through dbt.hash), so the same text values hash the same
  on DuckDB, PostgreSQL, Snowflake and BigQuery; how an engine renders a non-text value as text (timestamps, floats)
  is the engine's. chr(0) would be a safer marker but PostgreSQL text cannot hold it. In TypeScript
  (src/warehouse/row-hash.ts):
    const e = (v) => v === null ? "\x1e" : v.replaceAll("\x1d", "\x1d\x1d").replaceAll("\x1f", "\x1du").replaceAll("\x1e", "\x1dr");
    md5(values.map(e).join("\x1f"))
-#}
{% macro row_hash(columns) %}
  {{ return(adapter.dispatch('row_hash', 'activation')(columns)) }}
{% endmacro %}

{% macro default__row_hash(columns) -%}
  {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
  {%- if columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("activation.row_hash: give at least one column") }}
  {%- endif -%}
  {%- set gs = activation.ascii_char(29) -%}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- if not loop.first -%}{%- do parts.append(activation.ascii_char(31)) -%}{%- endif -%}
    {%- set escaped = dbt.replace(activation.as_text(column), gs, dbt.concat([gs, gs])) -%}
    {%- set escaped = dbt.replace(escaped, activation.ascii_char(31), dbt.concat([gs, "'u'"])) -%}
    {%- set escaped = dbt.replace(escaped, activation.ascii_char(30), dbt.concat([gs, "'r'"])) -%}
    {%- do parts.append("coalesce(" ~ escaped ~ ", " ~ activation.ascii_char(30) ~ ")") -%}
  {%- endfor -%}
  {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- DuckDB: the escape only where a value holds GS, US or RS. It changes no other value, so the hash is the same; a
    row without them (nearly every row) skips three string copies per value. The syncer's own DuckDB hash is guarded
    the same way, and measured there (src/warehouse/row-hash.ts). -#}
{% macro duckdb__row_hash(columns) -%}
  {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
  {%- if columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("activation.row_hash: give at least one column") }}
  {%- endif -%}
  {%- set texts = [] -%}
  {%- for column in columns -%}{%- do texts.append(activation.as_text(column)) -%}{%- endfor -%}
  {%- set all = "concat(" ~ texts | join(", ") ~ ")" -%}
  {%- set plain = [] -%}
  {%- for text in texts -%}{%- do plain.append("coalesce(" ~ text ~ ", " ~ activation.ascii_char(30) ~ ")") -%}{%- endfor -%}
  case when contains({{ all }}, {{ activation.ascii_char(29) }}) or contains({{ all }}, {{ activation.ascii_char(30) }}) or contains({{ all }}, {{ activation.ascii_char(31) }})
    then {{ activation.default__row_hash(columns) }}
    else md5({{ plain | join(" || " ~ activation.ascii_char(31) ~ " || ") }}) end
{%- endmacro %}
