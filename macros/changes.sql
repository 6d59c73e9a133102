{#-
  activation.changes(change_log=none, run_log=none) -> a complete select: the syncer's change log, one row per run
  and key and what that run did to the key (created, updated, cleared, deleted, unlisted, kept, failed, skipped),
  with the run it belongs to from the run log (invocation, status, start). `fields` is JSON text: the names of the
  destination fields the change wrote or cleared (never their values); `error_code` for a failure, `reason` for a
  skip or a removal. Columns: contract_name, run_id, invocation_id, run_status, run_started_at, sync_key, action,
  fields, error_code, reason, destination_record_id, recorded_at. Relations default to the source('activation', …)
  tables; missing tables are empty.
-#}
{% macro changes(change_log=none, run_log=none) %}
  {%- set change_log = activation.syncer_relation('activation_change_log', change_log) -%}
  {%- set run_log = activation.syncer_relation('activation_run_log', run_log) -%}
  {{ return(adapter.dispatch('changes', 'activation')(change_log, run_log)) }}
{% endmacro %}

{% macro default__changes(change_log, run_log) %}
select
    changes.contract_name,
    changes.run_id,
    runs.invocation_id,
    runs.status as run_status,
    runs.started_at as run_started_at,
    changes.sync_key,
    changes.action,
    changes.fields,
    changes.error_code,
    changes.reason,
    changes.destination_record_id,
    changes.recorded_at
from {{ activation.relation_or_empty(change_log, 'activation_change_log') }} as changes
left join {{ activation.relation_or_empty(run_log, 'activation_run_log') }} as runs
    on runs.run_id = changes.run_id and runs.contract_name = changes.contract_name
{% endmacro %}
