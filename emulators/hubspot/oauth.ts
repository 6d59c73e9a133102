// OAuth 2.0 for the emulated portal: POST /oauth/v1/token exchanges a refresh token for short-lived access
// tokens (form-encoded, as HubSpot and the SDK's oauth.tokensApi.create use it). Secrets are compared, never logged.
import { randomBytes } from "node:crypto";
import type { Reply } from "./errors.ts";

export interface OAuthOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** Lifetime of issued access tokens; default 30 minutes (HubSpot's). */
  accessTokenTtlMs?: number;
}

export class OAuthIssuer {
  private readonly options: OAuthOptions;
  private readonly issued = new Map<string, number>(); // token -> expiry (ms epoch)
  grants = 0;

  constructor(options: OAuthOptions) {
    this.options = options;
  }

  /** True for an issued, unexpired access token. */
  valid(token: string | undefined): boolean {
    const expiry = token === undefined ? undefined : this.issued.get(token);
    return expiry !== undefined && expiry > Date.now();
  }

  isIssued(token: string | undefined): boolean {
    return token !== undefined && this.issued.has(token);
  }

  /** Every issued token expires now (tests of the client's refresh on 401). */
  expireAll(): void {
    for (const token of this.issued.keys()) this.issued.set(token, 0);
  }

  grant(form: URLSearchParams): Reply {
    const error = (status: string, message: string): Reply => ({ status: 400, body: { status, message, correlationId: randomBytes(8).toString("hex") } });
    if (form.get("grant_type") !== "refresh_token") return error("BAD_GRANT_TYPE", "grant_type must be refresh_token (authorization_code is not emulated)");
    if (form.get("client_id") !== this.options.clientId) return error("BAD_CLIENT_ID", "missing or unknown client id");
    if (form.get("client_secret") !== this.options.clientSecret) return error("BAD_CLIENT_SECRET", "missing or invalid client secret");
    if (form.get("refresh_token") !== this.options.refreshToken) return error("BAD_REFRESH_TOKEN", "missing or unknown refresh token");
    const ttl = this.options.accessTokenTtlMs ?? 30 * 60_000;
    const token = `oauth-${randomBytes(18).toString("base64url")}`;
    this.issued.set(token, Date.now() + ttl);
    this.grants += 1;
    return {
      status: 200,
      body: { token_type: "bearer", access_token: token, refresh_token: this.options.refreshToken, expires_in: Math.floor(ttl / 1000) },
    };
  }
}
