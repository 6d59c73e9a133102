/** Reading a dbt profile target's fields. */
/** A profile field as a string, or undefined when it is absent or empty. */
export function stringField(config: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = config[name];
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number") return String(value);
  }
  return undefined;
}
