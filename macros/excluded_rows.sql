{#-
  activation.excluded_rows(model, key, columns, exclude=[], consent=none, holdout=none, rollout=none, review=none)
  -> a complete select of every row of `model` that activation.eligible_rows (same arguments) leaves out: `key` and
  `reasons`, every reason that applies joined by '; ' in this order: null_key, excluded:<item> (in the order given),
  no_consent, consent_stale, holdout, outside_rollout, held_for_review. For reviewers: who was left out and why.
-#}
{% macro excluded_rows(model, key, columns, exclude=[], consent=none, holdout=none, rollout=none, review=none, hash_columns=none) %}
  {{ return(adapter.dispatch('excluded_rows', 'activation')(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns)) }}
{% endmacro %}

{% macro default__excluded_rows(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns) %}
select
    {{ key }},
    _activation_reasons as reasons
from (
{{ activation.flagged_rows(model, key, columns, exclude, consent, holdout, rollout, review, hash_columns) }}
) as activation_excluded
where _activation_reason_count > 0
{% endmacro %}
