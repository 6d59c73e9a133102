select
    user_id,
    account_id,
    lower(trim(email)) as email,
    first_name,
    last_name,
    marketing_consent,
    consent_updated_at,
    weekly_sessions
from {{ ref('raw_users') }}
