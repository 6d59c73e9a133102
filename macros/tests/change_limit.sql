{#-
  Test activation.change_limit(contract, key, max_rows=none, max_percent=none, ledger=none, count_removed=true,
  hash_column='_activation_row_hash') on an activation model: the blast radius. Changes against the syncer's ledger
  (rows of `contract` with status 'synced', as the syncer's planner reads it):
    create   the key is not in the ledger
    update   the key is, with another row hash
    remove   a ledger key is no longer in the model (counted unless count_removed=false)
  Fails when the changes exceed `max_rows`, or `max_percent` percent of the contract's ledger rows. Before the first
  sync the ledger may not exist (treated as empty, through adapter.get_relation) or hold nothing for the contract:
  a percentage of nothing says nothing, so only max_rows applies then. `ledger` defaults to
  source('activation', 'activation_ledger'). Fails with one row per change: the key, `change` and `reason`.
-#}
{% test change_limit(model, contract, key, max_rows=none, max_percent=none, ledger=none, count_removed=true, hash_column='_activation_row_hash') %}
  {%- if max_rows is none and max_percent is none -%}
    {{ exceptions.raise_compiler_error("activation.change_limit: give max_rows, max_percent or both") }}
  {%- endif -%}
  {%- set ledger_relation = activation.syncer_relation('activation_ledger', ledger) -%}
  {{ return(adapter.dispatch('test_change_limit', 'activation')(model, contract, key, max_rows, max_percent, ledger_relation, count_removed, hash_column)) }}
{% endtest %}

{% macro default__test_change_limit(model, contract, key, max_rows, max_percent, ledger, count_removed, hash_column) %}
with model_rows as (
    select {{ activation.as_text(key) }} as sync_key, {{ hash_column }} as row_hash
    from {{ model }}
    where {{ key }} is not null
),

ledger_rows as (
    select sync_key, row_hash
    from {{ activation.relation_or_empty(ledger, 'activation_ledger') }} as ledger
    where contract_name = {{ activation.sql_literal(contract) }}
        and status = 'synced'
),

changes as (
    select
        m.sync_key,
        case when l.sync_key is null then 'create' else 'update' end as change
    from model_rows as m
    left join ledger_rows as l
        on l.sync_key = m.sync_key
    where l.sync_key is null
        or l.row_hash is null
        or m.row_hash is null
        or l.row_hash <> m.row_hash
    {%- if count_removed %}

    union all

    select
        l.sync_key,
        'remove' as change
    from ledger_rows as l
    left join model_rows as m
        on m.sync_key = l.sync_key
    where m.sync_key is null
    {%- endif %}
),

totals as (
    select
        (select count(*) from changes) as changed_rows,
        (select count(*) from ledger_rows) as ledger_rows
)

select
    c.sync_key as {{ key }},
    c.change,
    t.changed_rows,
    t.ledger_rows,
    {{ dbt.concat([
        "c.change", "': '",
        activation.as_text('t.changed_rows'), "' rows change against '", activation.as_text('t.ledger_rows'),
        activation.sql_literal(' ledger rows, more than' ~ (' max_rows ' ~ max_rows if max_rows is not none else '')
            ~ (' max_percent ' ~ max_percent ~ '%' if max_percent is not none else ''))
    ]) }} as reason
from changes as c
cross join totals as t
where false
    {%- if max_rows is not none %}
    or t.changed_rows > {{ max_rows }}
    {%- endif %}
    {%- if max_percent is not none %}
    or (t.ledger_rows > 0 and t.changed_rows * 100 > {{ max_percent }} * t.ledger_rows)
    {%- endif %}
{% endmacro %}
