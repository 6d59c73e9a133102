/** Creates a BigQuery client from a dbt-bigquery profile target. */
import { resolve } from "node:path";
import { BigQuery, type BigQueryOptions } from "@google-cloud/bigquery";
import { OAuth2Client } from "google-auth-library";
import { BadInputError } from "../../errors.ts";
import { stringField } from "../fields.ts";
import type { ConnectOptions } from "../types.ts";

export interface BigQueryTarget {
  client: BigQuery;
  projectId: string;
  dataset: string;
  location: string | undefined;
}

/**
 * dbt-bigquery's fields: `method` (oauth: application default credentials; service-account: `keyfile`;
 * service-account-json: `keyfile_json`; oauth-secrets: `token` and/or `refresh_token` + `client_id` +
 * `client_secret`), `project` (or `database`), `dataset` (or `schema`), `location`, `execution_project` (the project
 * jobs run in). `api_endpoint` (or BIGQUERY_EMULATOR_HOST) points the client elsewhere, as the tests do.
 */
export function bigqueryTarget(config: Record<string, unknown>, options: ConnectOptions): BigQueryTarget {
  const project = stringField(config, "project", "database");
  const dataset = stringField(config, "dataset", "schema");
  const missing = [!project && "project", !dataset && "dataset"].filter(Boolean);
  if (missing.length > 0) throw new BadInputError(`the bigquery profile target needs ${missing.join(", ")}`);
  const method = stringField(config, "method") ?? "oauth";
  const settings: BigQueryOptions = { projectId: stringField(config, "execution_project") ?? project };
  const endpoint = stringField(config, "api_endpoint");
  if (endpoint) settings.apiEndpoint = endpoint;
  const location = stringField(config, "location");
  if (location) settings.location = location;
  if (method === "service-account") {
    const keyfile = stringField(config, "keyfile");
    if (!keyfile) throw new BadInputError("the bigquery profile target's method service-account needs `keyfile`");
    settings.keyFilename = resolve(options.cwd ?? process.cwd(), keyfile);
  } else if (method === "service-account-json") {
    const json = config.keyfile_json;
    if (typeof json !== "object" || json === null) throw new BadInputError("the bigquery profile target's method service-account-json needs `keyfile_json`");
    settings.credentials = json as BigQueryOptions["credentials"];
  } else if (method === "oauth-secrets") {
    const token = stringField(config, "token");
    const refreshToken = stringField(config, "refresh_token");
    if (!token && !refreshToken) throw new BadInputError("the bigquery profile target's method oauth-secrets needs `token` or `refresh_token`");
    const clientId = stringField(config, "client_id");
    const clientSecret = stringField(config, "client_secret");
    const auth = new OAuth2Client({ ...(clientId ? { clientId } : {}), ...(clientSecret ? { clientSecret } : {}) });
    auth.setCredentials({ ...(token ? { access_token: token } : {}), ...(refreshToken ? { refresh_token: refreshToken } : {}) });
    settings.authClient = auth;
  } else if (method !== "oauth") {
    throw new BadInputError(`the bigquery profile target's method "${method}" is not supported (oauth, service-account, service-account-json, oauth-secrets)`);
  }
  return { client: new BigQuery(settings), projectId: project!, dataset: dataset!, location };
}
