/** Keeps secrets out of messages: drivers sometimes echo connection settings (a URL, a DSN) in their errors. */
export function redact(message: string, secrets: readonly unknown[]): string {
  let out = message;
  for (const secret of secrets) {
    if (typeof secret === "string" && secret.length >= 3) out = out.split(secret).join("***");
  }
  return out;
}

/** A profile field as a string, or undefined when it is absent or empty. */
export function stringField(config: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = config[name];
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number") return String(value);
  }
  return undefined;
}
