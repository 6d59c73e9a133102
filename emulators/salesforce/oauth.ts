// OAuth 2.0 token endpoint (client credentials, JWT bearer) and bearer-token checks for the data API.
import { createHmac, randomBytes } from "node:crypto";
import { API_USER_ID, ORG_ID } from "./ids.ts";
import { json, type Reply } from "./http.ts";

const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

function oauthError(status: number, error: string, description: string): Reply {
  return json(status, { error, error_description: description });
}

export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  ttlMs: number | undefined;
}

export class Tokens {
  private readonly config: OAuthConfig;
  private readonly tokens = new Map<string, number>(); // token -> expiry (ms epoch, Infinity = never)

  constructor(config: OAuthConfig) {
    this.config = config;
  }

  issue(ttlMs: number | undefined = this.config.ttlMs): string {
    const token = `${ORG_ID.slice(0, 15)}!${randomBytes(24).toString("base64url")}`;
    this.tokens.set(token, ttlMs === undefined ? Infinity : Date.now() + ttlMs);
    return token;
  }

  /** True when the Authorization header carries a known, unexpired bearer token. */
  valid(authorization: string | undefined): boolean {
    const m = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(authorization ?? "");
    const expiry = m?.[1] === undefined ? undefined : this.tokens.get(m[1].trim());
    return expiry !== undefined && expiry > Date.now();
  }

  /** POST /services/oauth2/token (form-encoded). */
  grant(form: URLSearchParams, basicAuth: string | undefined, baseUrl: string): Reply {
    const grantType = form.get("grant_type");
    if (grantType === "client_credentials") {
      let id = form.get("client_id");
      let secret = form.get("client_secret");
      // RFC 6749 also allows the client to authenticate with HTTP Basic.
      const basic = /^Basic\s+(.+)$/i.exec(basicAuth ?? "");
      if (basic?.[1]) {
        const [u, p] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
        id = decodeURIComponent(u ?? "");
        secret = decodeURIComponent(p ?? "");
      }
      if (id !== this.config.clientId || secret !== this.config.clientSecret) {
        return oauthError(400, "invalid_client", "invalid client credentials");
      }
      return this.success(baseUrl);
    }
    if (grantType === JWT_GRANT) return this.jwt(form.get("assertion"), baseUrl);
    return oauthError(400, "unsupported_grant_type", "grant type not supported");
  }

  private jwt(assertion: string | null, baseUrl: string): Reply {
    // The signature is NOT verified: the emulator has no certificate store, and the tests only need the
    // claim checks Salesforce makes before it (issuer, subject, audience, expiry).
    const parts = (assertion ?? "").split(".");
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
      if (parts.length !== 3 || typeof claims !== "object" || claims === null) throw new Error("not a JWT");
    } catch {
      return oauthError(400, "invalid_grant", "invalid assertion");
    }
    if (claims.iss !== this.config.clientId) return oauthError(400, "invalid_client", "invalid client credentials");
    if (typeof claims.sub !== "string" || claims.sub === "") return oauthError(400, "invalid_grant", "invalid assertion: missing subject");
    if (typeof claims.aud !== "string" || claims.aud === "") return oauthError(400, "invalid_grant", "audience is invalid");
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) return oauthError(400, "invalid_grant", "expired authorization code");
    return this.success(baseUrl);
  }

  private success(baseUrl: string): Reply {
    const issuedAt = String(Date.now());
    const id = `${baseUrl}/id/${ORG_ID}/${API_USER_ID}`;
    // Salesforce signs id + issued_at with the client secret; no refresh token for these grants.
    const signature = createHmac("sha256", this.config.clientSecret).update(id + issuedAt).digest("base64");
    return json(200, {
      access_token: this.issue(),
      instance_url: baseUrl,
      id,
      token_type: "Bearer",
      issued_at: issuedAt,
      signature,
      scope: "api",
    });
  }
}
