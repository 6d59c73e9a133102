{#-
  Test activation.consent_lag(key, updated_at, value_timestamp, max_lag) on an activation model: for every row the
  consent was updated no more than `max_lag` before the timestamp of the value being synced:
  updated_at >= value_timestamp - max_lag. A null updated_at or value_timestamp fails (nothing proves the consent
  current), the same rule as eligible_rows' consent_stale. Fails with one row per key: key, both timestamps, `reason`.
-#}
{% test consent_lag(model, key, updated_at, value_timestamp, max_lag) %}
  {{ return(adapter.dispatch('test_consent_lag', 'activation')(model, key, updated_at, value_timestamp, max_lag)) }}
{% endtest %}

{% macro default__test_consent_lag(model, key, updated_at, value_timestamp, max_lag) %}
{%- set seconds = activation.duration_seconds(max_lag) %}
select
    {{ key }},
    {{ updated_at }} as consent_updated_at,
    {{ value_timestamp }} as value_timestamp,
    case
        when {{ updated_at }} is null then 'consent timestamp is null'
        when {{ value_timestamp }} is null then 'value timestamp is null'
        else {{ activation.sql_literal('consent updated more than ' ~ max_lag ~ ' before the value') }}
    end as reason
from {{ model }}
where {{ updated_at }} is null
    or {{ value_timestamp }} is null
    or {{ updated_at }} < {{ activation.seconds_before(value_timestamp, seconds) }}
{% endmacro %}
