{#-
  The package model activation_changes, built when integration_tests runs with
  --vars '{activation_changes_enabled: true, activation_change_log_identifier: fx_change_log,
           activation_run_log_identifier: fx_run_log}'
  (seed first: the sources are not refs, so dbt cannot order them after the seeds), equals the expected rows.
-#}
{{ config(enabled=var('activation_changes_enabled', false), tags=['expect_pass'], meta={'subject': 'changes_model'}) }}
{{ test_equal_rows(
    ref('activation_changes'),
    ref('fx_expected_changes'),
    ['contract_name', 'run_id', 'invocation_id', 'run_status', 'run_started_at', 'sync_key', 'action', 'fields', 'error_code', 'reason', 'destination_record_id', 'recorded_at']
) }}
