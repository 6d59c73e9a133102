{#-
  Test activation.suppression(source_model, key, exclude=[], consent=none, holdout=none, rollout=none, review=none)
  on an activation model: no row that the contract's suppression leaves out is in it. The excluded rows are derived
  again from `source_model` (activation.excluded_rows with the same arguments), so a hand-written or stale activation
  model is checked as strictly as a generated one. Fails with one row per offending key: the key and `reason`.
-#}
{% test suppression(model, source_model, key, exclude=[], consent=none, holdout=none, rollout=none, review=none) %}
  {{ return(adapter.dispatch('test_suppression', 'activation')(model, source_model, key, exclude, consent, holdout, rollout, review)) }}
{% endtest %}

{% macro default__test_suppression(model, source_model, key, exclude, consent, holdout, rollout, review) %}
with excluded as (
    select
        {{ activation.as_text(key) }} as activation_key,
        _activation_reasons as reasons
    from (
{{ activation.flagged_rows(source_model, key, [key], exclude, consent, holdout, rollout, review) }}
    ) as flagged
    where _activation_reason_count > 0 and {{ key }} is not null
),

activated as (
    select {{ key }} as activation_key_value, {{ activation.as_text(key) }} as activation_key
    from {{ model }}
)

select
    a.activation_key as {{ key }},
    {{ dbt.concat(["'eligible but suppressed: '", "x.reasons"]) }} as reason
from activated as a
inner join excluded as x
    on x.activation_key = a.activation_key

union all

select
    cast(null as {{ dbt.type_string() }}) as {{ key }},
    'eligible with a null key' as reason
from activated
where activation_key_value is null
{% endmacro %}
