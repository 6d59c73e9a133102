/**
 * Keeps secrets out of messages: drivers sometimes echo connection settings (a URL, a DSN) in their errors, a
 * DuckDB/MotherDuck path carries its token, a destination may quote a header. Every output the syncer writes (errors,
 * reports, logs, alerts, the run log and dead letters) goes through `redact` with the run's secrets (`secretValues`).
 */

const MASK = "***";

/** Names of environment variables whose values are secrets (credentials the syncer reads, and alert endpoints). */
export const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSPHRASE|PRIVATE_KEY|API_KEY|ROUTING_KEY|CREDENTIAL|_URL$|_DSN$/i;

/** Profile fields that hold a credential, whatever rendered them. */
const SECRET_FIELD = /^(password|pass|token|private_key|private_key_passphrase|keyfile_json|refresh_token|client_secret|motherduck_token)$/i;

/** The secret parts of a URL or DuckDB path: `…?motherduck_token=…`, `token=`, `password=`, and `user:password@`. */
export function redactUrlSecrets(text: string): string {
  return text
    .replace(/([?&;](?:[a-z_]*token|password|passwd|pwd|secret|api_key|key)=)[^&;\s'"]+/gi, `$1${MASK}`)
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s'"]+:)[^@/\s'"]+@/gi, `$1${MASK}@`);
}

/** `message` with every secret (at least 3 characters, longest first) and every URL secret masked. */
export function redact(message: string, secrets: readonly unknown[]): string {
  const values = secrets.filter((s): s is string => typeof s === "string" && s.length >= 3).sort((a, b) => b.length - a.length);
  let out = message;
  for (const secret of values) {
    out = out.split(secret).join(MASK);
    // A secret with surrounding whitespace (read from a file) may appear trimmed.
    const trimmed = secret.trim();
    if (trimmed !== secret && trimmed.length >= 3) out = out.split(trimmed).join(MASK);
    const encoded = encodeURIComponent(trimmed);
    if (encoded !== trimmed) out = out.split(encoded).join(MASK);
  }
  return redactUrlSecrets(out);
}

/**
 * The secrets a run must never print: values of secret-looking environment variables (at least 6 characters, so a
 * flag like `1` is not masked everywhere), and the credential fields of the profile target.
 */
export function secretValues(env: NodeJS.ProcessEnv, config?: Record<string, unknown>, options: { endpoints?: boolean } = {}): string[] {
  // Endpoints (`…_URL`, `…_DSN`) whole are secrets where a message could quote one (an alert names its channels);
  // elsewhere their credentials are the URL parts `redactUrlSecrets` masks, and the address helps fix a connection.
  const endpoint = /_URL$|_DSN$/i;
  const secretName = (name: string): boolean => SECRET_NAME.test(name) && (options.endpoints !== false || !endpoint.test(name) || /TOKEN|SECRET|PASSWORD|KEY/i.test(name));
  const fromEnv = Object.entries(env).filter(([name, value]) => secretName(name) && value && value.trim().length >= 6).map(([, value]) => value!);
  const fromProfile = Object.entries(config ?? {}).filter(([name, value]) => SECRET_FIELD.test(name) && typeof value === "string" && value.length >= 3).map(([, value]) => value as string);
  return [...new Set([...fromEnv, ...fromProfile])];
}

/** A value with every string in it redacted (reports, alerts): objects and arrays are copied, other values kept. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  const clean = (v: unknown): unknown => {
    if (typeof v === "string") return redact(v, secrets);
    if (Array.isArray(v)) return v.map(clean);
    if (v instanceof Date || v === null || typeof v !== "object") return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clean(x)]));
  };
  return clean(value) as T;
}
