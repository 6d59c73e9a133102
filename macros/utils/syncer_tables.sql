{#-
  The syncer's warehouse tables (declared as the source `activation` in models/activation_sources.yml; the TypeScript
  syncer creates and writes them, src/ledger/migrations.ts). activation.syncer_columns(table) -> [(column, type)], the
  one list the package's empty stand-ins and docs use.
-#}
{% macro syncer_columns(table) %}
  {%- set text = dbt.type_string() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set int = dbt.type_bigint() -%}
  {%- set bool = dbt.type_boolean() -%}
  {%- set tables = {
    'activation_ledger': [
      ('contract_name', text), ('sync_key', text), ('row_hash', text), ('destination_record_id', text),
      ('last_sent_values', text), ('previous_values', text), ('source_updated_at', ts), ('synced_at', ts),
      ('run_id', text), ('status', text), ('removal_reason', text), ('removal_action', text)],
    'activation_run_log': [
      ('run_id', text), ('contract_name', text), ('invocation_id', text), ('started_at', ts), ('finished_at', ts),
      ('status', text), ('mode', text), ('rows_eligible', int), ('rows_created', int), ('rows_updated', int),
      ('rows_unchanged', int), ('rows_removed', int), ('rows_failed', int), ('rows_rejected', int),
      ('gate_passed', bool), ('gate_reasons', text), ('stop_reason', text), ('override_reason', text), ('actor', text),
      ('rows_skipped', int), ('rows_not_sent', int), ('rows_failed_unchanged', int), ('rows_retry_later', int)],
    'activation_dead_letters': [
      ('run_id', text), ('contract_name', text), ('sync_key', text), ('error_class', text), ('error_code', text),
      ('message', text), ('payload', text), ('created_at', ts), ('replayed_at', ts), ('failure_kind', text),
      ('row_hash', text), ('attempts', int), ('next_attempt_at', ts), ('closed_at', ts), ('close_reason', text)],
    'activation_destination_snapshot': [
      ('contract_name', text), ('sync_key', text), ('destination_record_id', text), ('values_json', text),
      ('destination_updated_at', ts), ('captured_at', ts), ('row_hash', text), ('holds_values', bool)],
    'activation_change_log': [
      ('run_id', text), ('contract_name', text), ('sync_key', text), ('action', text), ('fields', text),
      ('error_code', text), ('reason', text), ('destination_record_id', text), ('recorded_at', ts)],
  } -%}
  {%- if table not in tables -%}
    {{ exceptions.raise_compiler_error("activation: unknown syncer table " ~ table ~ " (one of " ~ (tables.keys() | list | join(', ')) ~ ")") }}
  {%- endif -%}
  {{ return(tables[table]) }}
{% endmacro %}

{#-
  activation.syncer_relation(table, relation=none) -> the relation to read for one of the syncer's tables: `relation`
  when given (a ref/source in a test's arguments), else source('activation', table). source() is called here, at
  parse time too, so lineage shows the dependency.
-#}
{% macro syncer_relation(table, relation=none) %}
  {%- if relation is not none -%}
    {{ return(relation) }}
  {%- endif -%}
  {{ return(source('activation', table)) }}
{% endmacro %}

{#-
  activation.relation_or_empty(relation, table) -> SQL for a FROM clause: the relation when it exists in the warehouse,
  else an empty, typed stand-in with the table's columns. Before the first sync the syncer's tables do not exist yet;
  tests then treat them as empty instead of failing with "relation does not exist".
-#}
{% macro relation_or_empty(relation, table) %}
  {%- set found = none -%}
  {%- if execute -%}
    {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {%- endif -%}
  {%- if found is not none -%}
    {{ return(found) }}
  {%- endif -%}
  {%- set columns = activation.syncer_columns(table) -%}
  {%- set empty -%}
    (select {% for name, type in columns -%}
      cast(null as {{ type }}) as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor %} from (select 1 as one) as activation_no_rows where 1 = 0)
  {%- endset -%}
  {{ return(empty) }}
{% endmacro %}
