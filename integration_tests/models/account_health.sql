-- One row per billing customer: the health score CS Ops reads on the HubSpot company record.
-- It does not filter internal test accounts, so its `not_null` test on `domain` fails and the gate holds it back.
with usage as (
    select
        billing_customer_id,
        avg(active_users) as avg_active_users
    from {{ ref('product_usage') }}
    group by billing_customer_id
),

scored as (
    select
        a.billing_customer_id,
        a.account_name,
        a.domain,
        a.lifecycle_status,
        a.is_test_account,
        case
            when a.lifecycle_status = 'churned' then 0
            else cast(least(100, round(coalesce(u.avg_active_users, 0) * 1.5 + 20)) as integer)
        end as health_score
    from {{ ref('accounts') }} as a
    left join usage as u
        on u.billing_customer_id = a.billing_customer_id
)

select
    billing_customer_id,
    account_name,
    domain,
    health_score,
    case
        when health_score >= 70 then 'healthy'
        when health_score >= 40 then 'watch'
        else 'at_risk'
    end as health_band,
    is_test_account,
    -- When this build scored the account: what freshness is measured on.
    cast({{ dbt.current_timestamp() }} as timestamp) as scored_at
from scored
