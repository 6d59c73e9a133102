// Salesforce-shaped record ids: 3-char key prefix + 12-digit counter + the real 3-char case checksum.

const SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/** The 3-char suffix that makes a 15-char id case-insensitive (Salesforce's published algorithm). */
export function idChecksum(id15: string): string {
  let suffix = "";
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i);
      if (c >= "A" && c <= "Z") flags |= 1 << i;
    }
    suffix += SUFFIX_CHARS.charAt(flags);
  }
  return suffix;
}

export function makeId(prefix: string, n: number): string {
  const id15 = prefix + String(n).padStart(12, "0");
  return id15 + idChecksum(id15);
}

/** Accept 15- or 18-char ids (clients send either); answer the 18-char form, or undefined if malformed. */
export function normalizeId(raw: string): string | undefined {
  if (/^[a-zA-Z0-9]{18}$/.test(raw)) {
    const id15 = raw.slice(0, 15);
    return id15 + idChecksum(id15);
  }
  if (/^[a-zA-Z0-9]{15}$/.test(raw)) return raw + idChecksum(raw);
  return undefined;
}

export const ORG_ID = makeId("00D", 1);
export const API_USER_ID = makeId("005", 1);
/** The "person" who edits records in the UI (editAsPerson), distinct from the integration user. */
export const PERSON_USER_ID = makeId("005", 2);

/** Salesforce's JSON datetime format: 2024-05-01T12:00:00.000+0000. */
export function sfDateTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "+0000");
}
