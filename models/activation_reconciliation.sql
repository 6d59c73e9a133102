{#-
  Every discrepancy between the syncer's ledger, the destination snapshot and the dead letters, per contract and key
  (see the macro activation.reconciliation). Off by default: a project enables it (var
  activation_reconciliation_enabled: true) once the syncer has created its tables.
-#}
{{ config(
    enabled=var('activation_reconciliation_enabled', false),
    materialized='table',
    tags=['activation']
) }}

{{ activation.reconciliation() }}
