select account_id, company_name, nullif(domain, '') as domain, plan, seats_purchased, is_sandbox
from {{ ref('raw_accounts') }}
