{#-
  Test activation.parity_drift(tolerance=0) on a parity model (activation.destination_parity; generated per contract
  as <contract>__parity): fails when more than `tolerance` of its discrepancies are drift (`expected` false: the next
  sync would not resolve them). Fails with one row per drifted key: sync_key, discrepancy, `reason`.
-#}
{% test parity_drift(model, tolerance=0) %}
  {{ return(adapter.dispatch('test_parity_drift', 'activation')(model, tolerance)) }}
{% endtest %}

{% macro default__test_parity_drift(model, tolerance) %}
with drift as (
    select sync_key, discrepancy, detail
    from {{ model }}
    where not expected
),

totals as (
    select count(*) as drifted from drift
)

select
    d.sync_key,
    d.discrepancy,
    t.drifted,
    {{ dbt.concat([
        "d.discrepancy", "': '", "d.detail", "'; '", activation.as_text('t.drifted'),
        activation.sql_literal(' discrepancies are drift, more than the tolerance ' ~ tolerance)
    ]) }} as reason
from drift as d
cross join totals as t
where t.drifted > {{ tolerance }}
{% endmacro %}
