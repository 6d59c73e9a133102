{#-
  activation.reconciliation(ledger=none, snapshot=none, dead_letters=none) -> a complete select: one row per contract,
  key and discrepancy between what the syncer believes it wrote (the ledger, latest row per key) and what the
  destination holds (the snapshot, latest capture per key), plus open dead letters:
    missing_in_destination  ledger 'synced', absent from the snapshot (keys synced before the contract's newest capture)
    stale                   in both, values differ and the destination record is older than our write (it did not land)
    value_mismatch          in both, values differ and the destination changed at or after our write (someone else
                            wrote, or the destination transformed the value); values compare as JSON text, which the
                            syncer writes canonically (sorted keys, no spaces)
    orphan_in_destination   in the snapshot, never synced by us (no ledger row)
    suppressed_but_present  ledger 'removed' (left the eligible set: suppressed, excluded or gone) but still in a
                            snapshot captured after the removal; expected only when the contract keeps removed records
    consent_revoked_but_present  the row left for a withdrawn consent (ledger removal_reason no_consent or
                            consent_stale) and the destination still holds exactly the values we activated: its clear
                            or delete failed (ledger still 'synced'), or the contract declared keep
    in_dead_letters         an open dead letter (not yet written, replayed or closed; latest per key)
  Columns: contract_name, sync_key, discrepancy, destination_record_id, ledger_status, synced_at,
  destination_updated_at, detail. Relations default to the source('activation', …) tables; missing tables are empty.
-#}
{% macro reconciliation(ledger=none, snapshot=none, dead_letters=none) %}
  {%- set ledger = activation.syncer_relation('activation_ledger', ledger) -%}
  {%- set snapshot = activation.syncer_relation('activation_destination_snapshot', snapshot) -%}
  {%- set dead_letters = activation.syncer_relation('activation_dead_letters', dead_letters) -%}
  {{ return(adapter.dispatch('reconciliation', 'activation')(ledger, snapshot, dead_letters)) }}
{% endmacro %}

{% macro default__reconciliation(ledger, snapshot, dead_letters) %}
{%- set text = dbt.type_string() -%}
{%- set ts = dbt.type_timestamp() -%}
with ledger_ranked as (
    select
        contract_name, sync_key, destination_record_id, last_sent_values, status, synced_at, removal_reason, removal_action,
        row_number() over (partition by contract_name, sync_key order by synced_at desc) as activation_rank
    from {{ activation.relation_or_empty(ledger, 'activation_ledger') }} as ledger
),

ledger_latest as (
    select
        ledger_ranked.*,
        case
            when removal_reason like '%no_consent%' or removal_reason like '%consent_stale%' then 1 else 0
        end as activation_consent_revoked
    from ledger_ranked where activation_rank = 1
),

snapshot_ranked as (
    select
        contract_name, sync_key, destination_record_id, values_json, destination_updated_at, captured_at,
        row_number() over (partition by contract_name, sync_key order by captured_at desc) as activation_rank
    from {{ activation.relation_or_empty(snapshot, 'activation_destination_snapshot') }} as snapshot
    where sync_key is not null
),

snapshot_latest as (
    select * from snapshot_ranked where activation_rank = 1
),

captures as (
    select contract_name, max(captured_at) as captured_at
    from snapshot_ranked
    group by contract_name
),

dead_ranked as (
    select
        contract_name, sync_key, error_class, error_code, message,
        row_number() over (partition by contract_name, sync_key order by created_at desc) as activation_rank
    from {{ activation.relation_or_empty(dead_letters, 'activation_dead_letters') }} as dead_letters
    where closed_at is null and sync_key is not null
),

discrepancies as (
    select
        l.contract_name, l.sync_key,
        cast('missing_in_destination' as {{ text }}) as discrepancy,
        l.destination_record_id, l.status as ledger_status, l.synced_at,
        cast(null as {{ ts }}) as destination_updated_at,
        cast('synced, but not in the destination snapshot' as {{ text }}) as detail
    from ledger_latest as l
    inner join captures as c
        on c.contract_name = l.contract_name
    left join snapshot_latest as s
        on s.contract_name = l.contract_name and s.sync_key = l.sync_key
    where l.status = 'synced' and s.sync_key is null and l.synced_at <= c.captured_at

    union all

    select
        l.contract_name, l.sync_key,
        case when s.destination_updated_at < l.synced_at then 'stale' else 'value_mismatch' end as discrepancy,
        coalesce(s.destination_record_id, l.destination_record_id) as destination_record_id,
        l.status as ledger_status, l.synced_at, s.destination_updated_at,
        case
            when s.destination_updated_at < l.synced_at then 'destination values older than our last write'
            else 'destination values differ from what we sent'
        end as detail
    from ledger_latest as l
    inner join snapshot_latest as s
        on s.contract_name = l.contract_name and s.sync_key = l.sync_key
    where l.status = 'synced'
        and (s.values_json <> l.last_sent_values
            or (s.values_json is null and l.last_sent_values is not null)
            or (s.values_json is not null and l.last_sent_values is null))

    union all

    select
        s.contract_name, s.sync_key,
        cast('orphan_in_destination' as {{ text }}) as discrepancy,
        s.destination_record_id, cast(null as {{ text }}) as ledger_status, cast(null as {{ ts }}) as synced_at,
        s.destination_updated_at,
        cast('in the destination, never synced by us' as {{ text }}) as detail
    from snapshot_latest as s
    left join ledger_latest as l
        on l.contract_name = s.contract_name and l.sync_key = s.sync_key
    where l.sync_key is null

    union all

    select
        l.contract_name, l.sync_key,
        cast('suppressed_but_present' as {{ text }}) as discrepancy,
        coalesce(s.destination_record_id, l.destination_record_id) as destination_record_id,
        l.status as ledger_status, l.synced_at, s.destination_updated_at,
        cast('removed from the eligible set, still in the destination' as {{ text }}) as detail
    from ledger_latest as l
    inner join snapshot_latest as s
        on s.contract_name = l.contract_name and s.sync_key = l.sync_key
    where l.status = 'removed' and s.captured_at >= l.synced_at and l.activation_consent_revoked = 0

    union all

    select
        l.contract_name, l.sync_key,
        cast('consent_revoked_but_present' as {{ text }}) as discrepancy,
        coalesce(s.destination_record_id, l.destination_record_id) as destination_record_id,
        l.status as ledger_status, l.synced_at, s.destination_updated_at,
        {{ dbt.concat(["'consent withdrawn ('", "l.removal_reason", "'; '", "coalesce(l.removal_action, '')", "'); the destination still holds the values we activated'"]) }} as detail
    from ledger_latest as l
    inner join snapshot_latest as s
        on s.contract_name = l.contract_name and s.sync_key = l.sync_key
    where l.activation_consent_revoked = 1 and s.values_json = l.last_sent_values

    union all

    select
        d.contract_name, d.sync_key,
        cast('in_dead_letters' as {{ text }}) as discrepancy,
        l.destination_record_id, l.status as ledger_status, l.synced_at,
        cast(null as {{ ts }}) as destination_updated_at,
        {{ dbt.concat(["coalesce(d.error_class, '')", "': '", "coalesce(d.error_code, '')", "' '", "coalesce(d.message, '')"]) }} as detail
    from dead_ranked as d
    left join ledger_latest as l
        on l.contract_name = d.contract_name and l.sync_key = d.sync_key
    where d.activation_rank = 1
)

select
    contract_name,
    sync_key,
    discrepancy,
    destination_record_id,
    ledger_status,
    synced_at,
    destination_updated_at,
    detail
from discrepancies
{% endmacro %}
