/** Exit codes, as printed by --help (and documented in the README). */
export const EXIT_CODES_HELP = `
Exit codes:
  0  every gated contract synced and every row was written
  1  internal error
  2  bad input (flags, artifacts, profiles, a contract, or a contract that does not fit its destination)
  3  at least one contract was held back by its gate (or is paused)
  4  at least one row failed, was rejected before sending, or was not sent (or the destination failed a contract)
  5  generate --check: generated files are missing, stale or left over
  6  a contract was stopped before sending (blast radius, minimum rows)
  7  another runner holds a contract (or the DuckDB file): nothing was done for it
  8  run: dbt build failed and no contract was held back by it, or dbt did not complete (nothing synced)`;

/** The environment a sync reads, as printed by `sync --help` and `plan --help` (and documented in the README). */
export const SYNC_ENVIRONMENT_HELP = `
Environment (credentials are read from it only, never from a contract or a flag):
  HubSpot     HUBSPOT_ACCESS_TOKEN, or HUBSPOT_CLIENT_ID + HUBSPOT_CLIENT_SECRET + HUBSPOT_REFRESH_TOKEN;
              HUBSPOT_BASE_PATH (an emulator or proxy), HUBSPOT_REQUEST_TIMEOUT_MS (default 60000)
  Salesforce  SALESFORCE_ACCESS_TOKEN + SALESFORCE_INSTANCE_URL, or SALESFORCE_CLIENT_ID with SALESFORCE_CLIENT_SECRET
              (client credentials) or with SALESFORCE_USERNAME + SALESFORCE_JWT_PRIVATE_KEY (JWT bearer);
              SALESFORCE_LOGIN_URL (default https://login.salesforce.com);
              SALESFORCE_BULK_THRESHOLD (rows from which Bulk API 2.0 is used, default 10000)
  Zendesk     ZENDESK_URL (https://<subdomain>.zendesk.com) with ZENDESK_EMAIL + ZENDESK_API_TOKEN, or ZENDESK_OAUTH_TOKEN;
              ZENDESK_REQUESTS_PER_MINUTE (this syncer's share of the account's limit; default all of it),
              ZENDESK_REQUEST_TIMEOUT_MS (default 60000)
  DBT_ACTIVATION_PAUSE                contracts to hold back (comma separated; * or 1 for all)
  DBT_ACTIVATION_LEASE_TTL_MS         how long a dead runner's lease blocks its contract (default 180000)
  DBT_ACTIVATION_PLAN_PARTITION_ROWS  keys per plan query (default on DuckDB 1000000; one query elsewhere)
  DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS  first wait before a transient dead letter is retried (default 900000;
                                      doubles with each failure, up to a day)
  DBT_ACTIVATION_THROTTLE_TIMEOUT_MS  how long a request stays throttled (429) while the destination accepts no
                                      request at all, before its rows become transient dead letters (default 60000)
  DBT_ACTIVATION_PROGRESS_INTERVAL_MS how often a progress line is logged when stderr is no terminal (default 5000)
  DBT_ACTIVATION_LOG_FORMAT           text or json: the default of --log-format
  Alerts      the variables a contract's monitoring.alert names (Slack URL, webhook URL and signing secret, PagerDuty
              routing key); DBT_ACTIVATION_ALERT_TIMEOUT_MS (per attempt, default 10000; 3 attempts);
              DBT_ACTIVATION_PAGERDUTY_URL (default https://events.pagerduty.com/v2/enqueue)`;

/** dbt Cloud's variables (--dbt-cloud-run, --dbt-cloud-job, serve), from src/config/env.ts. */
export const DBT_CLOUD_ENVIRONMENT_HELP = `dbt Cloud (--dbt-cloud-run, --dbt-cloud-job, serve):
  DBT_CLOUD_ACCOUNT_ID, DBT_CLOUD_API_TOKEN; DBT_CLOUD_HOST (access URL, default cloud.getdbt.com; e.g. emea.dbt.com,
  au.dbt.com, ACCOUNT_PREFIX.us1.dbt.com)
Warehouse without profiles.yml: DBT_ACTIVATION_TARGET_TYPE and DBT_ACTIVATION_TARGET_<FIELD> (the profile's fields)`;
