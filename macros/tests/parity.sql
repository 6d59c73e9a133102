{#-
  Test activation.parity(contract, key, tolerance=0, ledger=none, snapshot=none, hash_column='_activation_row_hash')
  on an activation model, after a sync: its eligible rows, the ledger (status 'synced') and the destination
  snapshot agree. Discrepancies per key:
    not_in_ledger          eligible, but the ledger has no synced row for it
    not_eligible           synced per the ledger, but no longer eligible
    hash_differs           eligible and synced, but with another row hash (the ledger is behind)
    not_in_destination     synced per the ledger, absent from the snapshot (only keys synced before the contract's
                           newest capture)
    unknown_in_destination in the snapshot, not synced per the ledger
  Fails when the keys with a discrepancy exceed `tolerance`: a share (0 .. 1) of the eligible rows (at least 1) when
  < 1, else a number of keys. Missing ledger or snapshot tables are empty. Fails with one row per discrepancy: key, `discrepancy`,
  `reason`.
-#}
{% test parity(model, contract, key, tolerance=0, ledger=none, snapshot=none, hash_column='_activation_row_hash') %}
  {%- set ledger_relation = activation.syncer_relation('activation_ledger', ledger) -%}
  {%- set snapshot_relation = activation.syncer_relation('activation_destination_snapshot', snapshot) -%}
  {{ return(adapter.dispatch('test_parity', 'activation')(model, contract, key, tolerance, ledger_relation, snapshot_relation, hash_column)) }}
{% endtest %}

{% macro default__test_parity(model, contract, key, tolerance, ledger, snapshot, hash_column) %}
with eligible as (
    select {{ activation.as_text(key) }} as sync_key, {{ hash_column }} as row_hash
    from {{ model }}
    where {{ key }} is not null
),

synced as (
    select sync_key, row_hash, synced_at
    from {{ activation.relation_or_empty(ledger, 'activation_ledger') }} as ledger
    where contract_name = {{ activation.sql_literal(contract) }}
        and status = 'synced'
),

destination as (
    select distinct sync_key
    from {{ activation.relation_or_empty(snapshot, 'activation_destination_snapshot') }} as snapshot
    where contract_name = {{ activation.sql_literal(contract) }} and sync_key is not null
),

captured as (
    select max(captured_at) as captured_at
    from {{ activation.relation_or_empty(snapshot, 'activation_destination_snapshot') }} as snapshot
    where contract_name = {{ activation.sql_literal(contract) }}
),

discrepancies as (
    select e.sync_key, 'not_in_ledger' as discrepancy
    from eligible as e
    left join synced as s on s.sync_key = e.sync_key
    where s.sync_key is null

    union all

    select s.sync_key, 'not_eligible' as discrepancy
    from synced as s
    left join eligible as e on e.sync_key = s.sync_key
    where e.sync_key is null

    union all

    select e.sync_key, 'hash_differs' as discrepancy
    from eligible as e
    inner join synced as s on s.sync_key = e.sync_key
    where s.row_hash is null or e.row_hash is null or s.row_hash <> e.row_hash

    union all

    select s.sync_key, 'not_in_destination' as discrepancy
    from synced as s
    cross join captured as c
    left join destination as d on d.sync_key = s.sync_key
    where d.sync_key is null and s.synced_at <= c.captured_at

    union all

    select d.sync_key, 'unknown_in_destination' as discrepancy
    from destination as d
    left join synced as s on s.sync_key = d.sync_key
    where s.sync_key is null
),

totals as (
    select
        (select count(distinct sync_key) from discrepancies) as discrepant_keys,
        (select count(*) from eligible) as eligible_rows
)

select
    d.sync_key as {{ key }},
    d.discrepancy,
    t.discrepant_keys,
    t.eligible_rows,
    {{ dbt.concat([
        "d.discrepancy", "': '", activation.as_text('t.discrepant_keys'), "' keys out of parity for '",
        activation.as_text('t.eligible_rows'), activation.sql_literal(' eligible rows, more than the tolerance ' ~ tolerance)
    ]) }} as reason
from discrepancies as d
cross join totals as t
{%- if tolerance < 1 %}
where t.discrepant_keys > {{ tolerance }} * (case when t.eligible_rows > 0 then t.eligible_rows else 1 end)
{%- else %}
where t.discrepant_keys > {{ tolerance }}
{%- endif %}
{% endmacro %}
