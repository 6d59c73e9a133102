-- One row per user: the engagement band lifecycle marketing picks the nurture track from in HubSpot.
select
    u.email,
    u.first_name,
    u.last_name,
    a.plan as plan_tier,
    case
        when u.weekly_sessions >= 10 then 'high'
        when u.weekly_sessions >= 3 then 'medium'
        else 'low'
    end as engagement_band,
    u.marketing_consent,
    u.consent_updated_at,
    a.is_sandbox as is_internal,
    cast({{ dbt.current_timestamp() }} as timestamp) as scored_at
from {{ ref('stg_users') }} as u
inner join {{ ref('stg_accounts') }} as a on a.account_id = u.account_id
