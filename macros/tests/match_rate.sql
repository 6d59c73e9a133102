{#-
  Test activation.match_rate(contract, key, min_rate, snapshot=none) on an activation model: the share of its keys
  that match a known destination record (a row of `contract` in the destination snapshot the syncer captures) is at
  least `min_rate` (0 .. 1). For update-only syncs, where an unmatched key is a row that can never land.
  The test decides only once the destination was read for the contract (`reconcile` wrote a capture, marked by a row
  without a key): with no capture yet (no snapshot table, or nothing for the contract) it passes, and the syncer
  measures the rate itself before the contract's first sync by looking the eligible keys up in the destination
  (read-only), holding the sync back below `min_rate`. A capture that found no record is 0 matches. An empty model
  passes.
  `snapshot` defaults to source('activation', 'activation_destination_snapshot').
  Fails with one row per unmatched key when the rate is too low: the key, matched/total counts and `reason`.
-#}
{% test match_rate(model, contract, key, min_rate, snapshot=none) %}
  {%- set snapshot_relation = activation.syncer_relation('activation_destination_snapshot', snapshot) -%}
  {{ return(adapter.dispatch('test_match_rate', 'activation')(model, contract, key, min_rate, snapshot_relation)) }}
{% endtest %}

{% macro default__test_match_rate(model, contract, key, min_rate, snapshot) %}
with model_keys as (
    select distinct {{ activation.as_text(key) }} as sync_key
    from {{ model }}
    where {{ key }} is not null
),

captured as (
    select sync_key
    from {{ activation.relation_or_empty(snapshot, 'activation_destination_snapshot') }} as snapshot
    where contract_name = {{ activation.sql_literal(contract) }}
),

known as (
    select distinct sync_key from captured where sync_key is not null
),

matched as (
    select m.sync_key, case when k.sync_key is null then 0 else 1 end as is_match
    from model_keys as m
    left join known as k
        on k.sync_key = m.sync_key
),

totals as (
    select
        count(*) as total_keys,
        sum(is_match) as matched_keys,
        (select count(*) from captured) as captured_rows
    from matched
)

select
    m.sync_key as {{ key }},
    t.matched_keys,
    t.total_keys,
    {{ dbt.concat([
        "'not in the destination snapshot; '", activation.as_text('t.matched_keys'), "' of '",
        activation.as_text('t.total_keys'), activation.sql_literal(' keys match, fewer than min_rate ' ~ min_rate)
    ]) }} as reason
from matched as m
cross join totals as t
where m.is_match = 0
    and t.captured_rows > 0
    and t.matched_keys < {{ min_rate }} * t.total_keys
{% endmacro %}
