{#-
  activation.destination_parity(model, contract, key, acts_on_removed=true, hash_column='_activation_row_hash',
  ledger=none, snapshot=none) -> a complete select: source-vs-destination parity of one contract, its activation
  model against the latest destination snapshot `reconcile` wrote for it. One row per key and discrepancy:
    missing_in_destination  eligible, no destination record in the snapshot
    value_mismatch          eligible and in the destination, which holds other values than the model's row (the
                            snapshot's row_hash is the row hash of what we sent when the destination held exactly that,
                            else null)
    no_longer_eligible      in the destination with values in mapped fields, not eligible any more
  `expected` is true when the discrepancy is not drift: the next sync resolves it (never synced, or the row changed
  since it was sent), the snapshot was captured before our last write, or the contract keeps removed records
  (`acts_on_removed` false). A contract with no snapshot yet has no rows (nothing known about the destination).
  Columns: contract_name, sync_key, discrepancy, expected, destination_record_id, captured_at, detail. `ledger` and
  `snapshot` default to the source('activation', …) tables; missing tables are empty.
-#}
{% macro destination_parity(model, contract, key, acts_on_removed=true, hash_column='_activation_row_hash', ledger=none, snapshot=none) %}
  {%- set ledger_relation = activation.syncer_relation('activation_ledger', ledger) -%}
  {%- set snapshot_relation = activation.syncer_relation('activation_destination_snapshot', snapshot) -%}
  {{ return(adapter.dispatch('destination_parity', 'activation')(model, contract, key, acts_on_removed, hash_column, ledger_relation, snapshot_relation)) }}
{% endmacro %}

{% macro default__destination_parity(model, contract, key, acts_on_removed, hash_column, ledger, snapshot) %}
{%- set text = dbt.type_string() -%}
{%- set name = activation.sql_literal(contract) -%}
with eligible as (
    select {{ activation.as_text(key) }} as sync_key, {{ hash_column }} as row_hash
    from {{ model }}
    where {{ key }} is not null
),

captured as (
    select sync_key, destination_record_id, row_hash, holds_values, captured_at
    from {{ activation.relation_or_empty(snapshot, 'activation_destination_snapshot') }} as snapshot
    where contract_name = {{ name }} and sync_key is not null
),

capture as (
    select max(captured_at) as captured_at from captured
),

destination as (
    select s.sync_key, s.destination_record_id, s.row_hash, s.holds_values
    from captured as s
    inner join capture as c on s.captured_at = c.captured_at
),

ledger_ranked as (
    select
        sync_key, row_hash, status, synced_at,
        row_number() over (partition by sync_key order by synced_at desc) as activation_rank
    from {{ activation.relation_or_empty(ledger, 'activation_ledger') }} as ledger
    where contract_name = {{ name }}
),

ledger_latest as (
    select sync_key, row_hash, status, synced_at from ledger_ranked where activation_rank = 1
),

discrepancies as (
    select
        e.sync_key,
        cast('missing_in_destination' as {{ text }}) as discrepancy,
        case
            when l.sync_key is null or l.status <> 'synced' or coalesce(l.row_hash, '') <> coalesce(e.row_hash, '')
                or l.synced_at > c.captured_at then true
            else false
        end as expected,
        cast(null as {{ text }}) as destination_record_id,
        cast('eligible, no record in the destination' as {{ text }}) as detail
    from eligible as e
    cross join capture as c
    left join destination as d on d.sync_key = e.sync_key
    left join ledger_latest as l on l.sync_key = e.sync_key
    where c.captured_at is not null and d.sync_key is null

    union all

    select
        e.sync_key,
        cast('value_mismatch' as {{ text }}) as discrepancy,
        case
            when l.sync_key is null or l.status <> 'synced' or coalesce(l.row_hash, '') <> coalesce(e.row_hash, '')
                or l.synced_at > c.captured_at then true
            else false
        end as expected,
        d.destination_record_id,
        case
            when d.row_hash is null then cast('the destination holds values we did not send for this key' as {{ text }})
            else cast('the destination holds an earlier version of this row' as {{ text }})
        end as detail
    from eligible as e
    cross join capture as c
    inner join destination as d on d.sync_key = e.sync_key
    left join ledger_latest as l on l.sync_key = e.sync_key
    where d.row_hash is null or d.row_hash <> coalesce(e.row_hash, '')

    union all

    select
        d.sync_key,
        cast('no_longer_eligible' as {{ text }}) as discrepancy,
        {%- if acts_on_removed %}
        case when l.status = 'removed' and l.synced_at <= c.captured_at then false else true end as expected,
        {%- else %}
        true as expected,
        {%- endif %}
        d.destination_record_id,
        cast('not eligible, the destination still holds values' as {{ text }}) as detail
    from destination as d
    cross join capture as c
    left join eligible as e on e.sync_key = d.sync_key
    left join ledger_latest as l on l.sync_key = d.sync_key
    where e.sync_key is null and d.holds_values
)

select
    cast({{ name }} as {{ text }}) as contract_name,
    p.sync_key,
    p.discrepancy,
    p.expected,
    p.destination_record_id,
    c.captured_at,
    p.detail
from discrepancies as p
cross join capture as c
{% endmacro %}
