-- One row per account: seat utilization and the health band CS Ops reviews on the HubSpot company.
select
    a.account_id,
    a.company_name,
    a.domain,
    round(count(u.user_id) * 100.0 / a.seats_purchased, 1) as seat_utilization,
    case
        when count(u.user_id) * 1.0 / a.seats_purchased >= 0.05 then 'healthy'
        when count(u.user_id) * 1.0 / a.seats_purchased >= 0.02 then 'watch'
        else 'at_risk'
    end as health_band,
    a.is_sandbox,
    cast({{ dbt.current_timestamp() }} as timestamp) as scored_at
from {{ ref('stg_accounts') }} as a
left join {{ ref('stg_users') }} as u on u.account_id = a.account_id
group by a.account_id, a.company_name, a.domain, a.seats_purchased, a.is_sandbox
