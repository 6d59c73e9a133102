{#-
  activation.flagged_rows(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns) -> a select (no WITH, so it
  nests anywhere) of every row of `model` with: the key, the listed columns, `_activation_row_hash`, one 0/1 column per
  reason a row is not eligible, `_activation_reason_count` and `_activation_reasons` (the reasons joined by '; ').
  The shared core of eligible_rows, excluded_rows and the suppression test; see eligible_rows for the arguments.
-#}
{% macro flagged_rows(model, key, columns, exclude=[], consent=none, holdout=none, rollout=none, review=none, hash_columns=none) %}
  {{ return(adapter.dispatch('flagged_rows', 'activation')(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns)) }}
{% endmacro %}

{#- The reasons in order, as (name, SQL condition) pairs; shared so every macro lists them the same way. -#}
{% macro suppression_checks(key, exclude=[], consent=none, holdout=none, rollout=none, review=none) %}
  {%- set checks = [('null_key', key ~ ' is null')] -%}
  {%- if exclude is string -%}{%- set exclude = [exclude] -%}{%- endif -%}
  {%- for item in (exclude or []) -%}
    {#- A bare boolean column is itself a predicate; either way a row is excluded when it is true (null: not). -#}
    {%- do checks.append(('excluded:' ~ item, '(' ~ item ~ ')')) -%}
  {%- endfor -%}
  {%- if consent -%}
    {%- if not consent.get('column') -%}
      {{ exceptions.raise_compiler_error("activation: consent needs `column` (a boolean column: only true rows are eligible)") }}
    {%- endif -%}
    {#- not (column is true): false and null both mean no consent. -#}
    {%- do checks.append(('no_consent', 'not coalesce(' ~ consent.column ~ ', false)')) -%}
    {%- if consent.get('value_timestamp') -%}
      {%- if not consent.get('updated_at') or not consent.get('max_lag') -%}
        {{ exceptions.raise_compiler_error("activation: consent with value_timestamp needs `updated_at` and `max_lag`") }}
      {%- endif -%}
      {%- set lag = activation.duration_seconds(consent.max_lag) -%}
      {#- Stale unless both timestamps are known and consent was updated no more than max_lag before the value. -#}
      {%- do checks.append(('consent_stale',
            consent.updated_at ~ ' is null or ' ~ consent.value_timestamp ~ ' is null or '
            ~ consent.updated_at ~ ' < ' ~ activation.seconds_before(consent.value_timestamp, lag))) -%}
    {%- endif -%}
  {%- endif -%}
  {%- if holdout -%}
    {%- if holdout.get('percent') is none or not holdout.get('salt') -%}
      {{ exceptions.raise_compiler_error("activation: holdout needs `percent` and `salt`") }}
    {%- endif -%}
    {%- do checks.append(('holdout', activation.stable_bucket(key, holdout.salt) ~ ' < ' ~ holdout.percent)) -%}
  {%- endif -%}
  {%- if rollout -%}
    {%- if rollout.get('percent') is none -%}
      {{ exceptions.raise_compiler_error("activation: rollout needs `percent`") }}
    {%- endif -%}
    {%- do checks.append(('outside_rollout', activation.stable_bucket(key, rollout.get('salt') or 'rollout') ~ ' >= ' ~ rollout.percent)) -%}
  {%- endif -%}
  {%- if review -%}
    {%- if not review.get('when') -%}
      {{ exceptions.raise_compiler_error("activation: review needs `when` (a SQL predicate)") }}
    {%- endif -%}
    {%- do checks.append(('held_for_review', '(' ~ review.when ~ ')')) -%}
  {%- endif -%}
  {{ return(checks) }}
{% endmacro %}

{% macro default__flagged_rows(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns) %}
  {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
  {%- set checks = activation.suppression_checks(key, exclude, consent, holdout, rollout, review) -%}
  {%- set pieces = [] -%}
  {%- for name, condition in checks -%}
    {%- do pieces.append("case when _activation_flag_" ~ loop.index ~ " = 1 then " ~ activation.sql_literal('; ' ~ name) ~ " else '' end") -%}
  {%- endfor %}
select
    activation_flags.*,
    {% for name, condition in checks -%}
    _activation_flag_{{ loop.index }}{{ ' + ' if not loop.last }}
    {%- endfor %} as _activation_reason_count,
    substr({{ dbt.concat(pieces) }}, 3) as _activation_reasons
from (
    select
        {{ key }},
        {%- for column in columns if column != key %}
        {{ column }},
        {%- endfor %}
        {{ activation.row_hash(hash_columns if hash_columns is not none else columns) }} as _activation_row_hash,
        {%- for name, condition in checks %}
        case when {{ condition }} then 1 else 0 end as _activation_flag_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
) as activation_flags
{% endmacro %}
