// A deliberately small SOQL subset: SELECT f, ... FROM Obj [WHERE f = v | f IN (v, ...) [AND ...]] [LIMIT n].
// Anything else is rejected as MALFORMED_QUERY so the syncer cannot come to rely on unemulated SOQL.

export type Literal = string | number | boolean | null;

export interface Condition {
  field: string;
  values: Literal[];
}

export interface ParsedQuery {
  fields: string[];
  sobject: string;
  where: Condition[];
  limit?: number;
}

export class SoqlError extends Error {}

type Token = { kind: "ident" | "string" | "number" | "punct"; text: string; value?: Literal };

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", f: "\f", '"': '"', "'": "'", "\\": "\\" };

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      // SOQL string literal with backslash escapes (\' \\ \n ...).
      let s = "";
      i++;
      for (;;) {
        if (i >= q.length) throw new SoqlError("unterminated string literal");
        const d = q.charAt(i);
        if (d === "\\") {
          const e = ESCAPES[q.charAt(i + 1)];
          if (e === undefined) throw new SoqlError(`invalid escape sequence \\${q.charAt(i + 1)}`);
          s += e;
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      tokens.push({ kind: "string", text: s, value: s });
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(q.slice(i));
      if (!m) throw new SoqlError(`unexpected token '${c}'`);
      tokens.push({ kind: "number", text: m[0], value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(q.slice(i));
      const text = m?.[0] ?? c;
      tokens.push({ kind: "ident", text });
      i += text.length;
    } else if ("(),=".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else {
      throw new SoqlError(`unexpected token '${c}'`);
    }
  }
  return tokens;
}

export function parseSoql(q: string): ParsedQuery {
  const tokens = tokenize(q);
  let pos = 0;
  const peek = () => tokens[pos];
  const isKeyword = (kw: string) => peek()?.kind === "ident" && peek()?.text.toUpperCase() === kw;
  const expectKeyword = (kw: string) => {
    if (!isKeyword(kw)) throw new SoqlError(`expecting '${kw}', found '${peek()?.text ?? "end of query"}'`);
    pos++;
  };
  const expectPunct = (p: string) => {
    if (peek()?.kind !== "punct" || peek()?.text !== p) throw new SoqlError(`expecting '${p}', found '${peek()?.text ?? "end of query"}'`);
    pos++;
  };
  const ident = () => {
    const t = peek();
    if (t?.kind !== "ident") throw new SoqlError(`expecting a name, found '${t?.text ?? "end of query"}'`);
    pos++;
    return t.text;
  };
  const literal = (): Literal => {
    const t = peek();
    if (!t) throw new SoqlError("expecting a value, found end of query");
    pos++;
    if (t.kind === "string" || t.kind === "number") return t.value ?? null;
    if (t.kind === "ident" && /^(true|false|null)$/i.test(t.text)) return t.text.toLowerCase() === "null" ? null : t.text.toLowerCase() === "true";
    throw new SoqlError(`expecting a value, found '${t.text}'`);
  };

  expectKeyword("SELECT");
  const fields = [ident()];
  while (peek()?.text === ",") {
    pos++;
    fields.push(ident());
  }
  expectKeyword("FROM");
  const sobject = ident();
  const where: Condition[] = [];
  if (isKeyword("WHERE")) {
    pos++;
    do {
      if (where.length > 0) pos++; // the AND
      const field = ident();
      if (isKeyword("IN")) {
        pos++;
        expectPunct("(");
        const values = [literal()];
        while (peek()?.text === ",") {
          pos++;
          values.push(literal());
        }
        expectPunct(")");
        where.push({ field, values });
      } else {
        expectPunct("=");
        where.push({ field, values: [literal()] });
      }
    } while (isKeyword("AND"));
  }
  let limit: number | undefined;
  if (isKeyword("LIMIT")) {
    pos++;
    const n = literal();
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new SoqlError("LIMIT must be a non-negative integer");
    limit = n;
  }
  if (pos < tokens.length) throw new SoqlError(`unexpected token: '${peek()?.text ?? ""}'`);
  return { fields, sobject, where, limit };
}

/** SOQL's = and IN compare text case-insensitively. */
export function matches(value: unknown, wanted: Literal[]): boolean {
  return wanted.some((w) => {
    if (w === null) return value === null || value === undefined;
    if (value === null || value === undefined) return false;
    if (typeof w === "string") return String(value).toLowerCase() === w.toLowerCase();
    return value === w;
  });
}
