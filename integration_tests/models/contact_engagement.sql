-- One row per marketing contact at an active customer: the engagement signal lifecycle marketing uses in HubSpot.
with usage as (
    select
        billing_customer_id,
        avg(active_users) as avg_active_users,
        sum(events) as events_last_3d
    from {{ ref('product_usage') }}
    group by billing_customer_id
)

select
    lower(c.email) as email,
    c.first_name,
    c.last_name,
    c.job_title,
    a.plan as plan_tier,
    case
        when coalesce(u.avg_active_users, 0) >= 40 then 'high'
        when coalesce(u.avg_active_users, 0) >= 10 then 'medium'
        else 'low'
    end as engagement_band,
    cast(coalesce(u.events_last_3d, 0) as integer) as events_last_3d,
    c.marketing_consent,
    c.consent_updated_at,
    cast({{ dbt.current_timestamp() }} as timestamp) as scored_at
from {{ ref('contacts') }} as c
inner join {{ ref('accounts') }} as a
    on a.billing_customer_id = c.billing_customer_id
left join usage as u
    on u.billing_customer_id = c.billing_customer_id
where c.marketing_consent
    and a.lifecycle_status = 'active'
    and not a.is_test_account
