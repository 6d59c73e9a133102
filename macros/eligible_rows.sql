{#-
  activation.eligible_rows(model, key, columns, exclude=[], consent=none, holdout=none, rollout=none, review=none,
                           hash_columns=none)
  -> a complete select: the rows of `model` that may be synced, with `key`, the listed `columns` and
  `_activation_row_hash` = activation.row_hash(hash_columns), by default of all `columns` (give the mapped fields
  only, so a change in a carried timestamp does not resend a row), and `_activation_invocation_id` = the id of the dbt
  invocation that built the rows (the syncer reads only rows of the invocation whose tests it gated, so a table
  rebuilt later, by `dbt run` for instance, is refused rather than sent untested). A row is eligible when none of
  these holds:
    null_key           key is null
    excluded:<item>    an `exclude` item is true: a boolean column name or a SQL predicate (null counts as false)
    no_consent         consent.column is not true (false or null)
    consent_stale      consent.value_timestamp given and consent.updated_at is null, value_timestamp is null, or
                       updated_at < value_timestamp - consent.max_lag (a duration: '90m', '24h', '7d')
    holdout            stable_bucket(key, holdout.salt) < holdout.percent (the same keys every run, every engine)
    outside_rollout    stable_bucket(key, rollout.salt or 'rollout') >= rollout.percent
    held_for_review    review.when (a SQL predicate) is true
  consent = {column, updated_at, max_lag, value_timestamp?}; holdout = {percent, salt}; rollout = {percent, salt?};
  review = {when}. activation.excluded_rows takes the same arguments and lists the other rows with their reasons.
-#}
{% macro eligible_rows(model, key, columns, exclude=[], consent=none, holdout=none, rollout=none, review=none, hash_columns=none) %}
  {{ return(adapter.dispatch('eligible_rows', 'activation')(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns)) }}
{% endmacro %}

{% macro default__eligible_rows(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns) %}
  {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif %}
select
    {{ key }},
    {%- for column in columns if column != key %}
    {{ column }},
    {%- endfor %}
    _activation_row_hash,
    cast({{ activation.sql_literal(invocation_id) }} as {{ dbt.type_string() }}) as _activation_invocation_id
from (
{{ activation.flagged_rows(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns) }}
) as activation_eligible
where _activation_reason_count = 0
{% endmacro %}
