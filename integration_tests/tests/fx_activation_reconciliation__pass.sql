{#-
  The package model activation_reconciliation, built when integration_tests runs with
  --vars '{activation_reconciliation_enabled: true, activation_ledger_identifier: fx_ledger,
           activation_destination_snapshot_identifier: fx_destination_snapshot,
           activation_dead_letters_identifier: fx_dead_letters}'
  (seed first: the sources are not refs, so dbt cannot order them after the seeds), equals the expected rows.
-#}
{{ config(enabled=var('activation_reconciliation_enabled', false), tags=['expect_pass'], meta={'subject': 'reconciliation_model'}) }}
{{ test_equal_rows(
    ref('activation_reconciliation'),
    ref('fx_expected_reconciliation'),
    ['contract_name', 'sync_key', 'discrepancy', 'destination_record_id', 'ledger_status', 'synced_at', 'destination_updated_at', 'detail']
) }}
