{#-
  What each sync run did per contract and key (see the macro activation.changes): the syncer's change log with its
  run. A view, so it reads the log as it is now. Off by default: a project enables it (var activation_changes_enabled:
  true) once the syncer has created its tables.
-#}
{{ config(
    enabled=var('activation_changes_enabled', false),
    materialized='view',
    tags=['activation']
) }}

{{ activation.changes() }}
