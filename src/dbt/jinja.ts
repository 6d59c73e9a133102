/**
 * Renders dbt's YAML templates (profiles.yml, dbt_project.yml's `profile` and `target-path`) the way dbt does, with
 * nunjucks (a well-kept Jinja2 port) rather than by starting Python: the pinned dbt's own renderer costs 1-2 s of
 * imports on every command, and the syncer must also run where dbt is not installed (dbt Cloud users).
 *
 * What dbt gives these files, and so what is here: `env_var(name, default)`, `var(name, default)` (from `--vars`),
 * `fromjson`/`tojson`/`fromyaml`/`toyaml`, Jinja's statements and filters, and dbt's four marker filters. dbt renders
 * "natively" (dbt_common's `quoted_native_concat`): a template whose output is one expression keeps that expression's
 * value (a number from `| int`, a list), a value marked `as_number`/`as_bool`/`as_native` is read as a Python literal
 * (and must be a number / a bool), and anything else is text, so `"{{ env_var('PORT') }}"` stays the string "5432".
 * Nunjucks differs from Jinja2 in Python-only syntax (`'x'.upper()` methods): such a template is refused with its
 * location, not guessed at.
 */
import type * as Nunjucks from "nunjucks";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { BadInputError, errorMessage } from "../errors.ts";
import { readNamedEnv } from "../config/env.ts";

let loadedNunjucks: typeof Nunjucks | undefined;
/** nunjucks is loaded on the first render: most commands (and most values) never need it, and it costs start-up. */
function nunjucks(): typeof Nunjucks {
  return (loadedNunjucks ??= createRequire(import.meta.url)("nunjucks") as typeof Nunjucks);
}

export interface RenderContext {
  env: NodeJS.ProcessEnv;
  /** dbt's `--vars` (a YAML mapping), for `var()`. */
  vars?: Record<string, unknown>;
}

type MarkerKind = "text" | "bool" | "number" | "native";

/** A value a marker filter returned: dbt's TextMarker / BoolMarker / NumberMarker / NativeMarker (str subclasses). */
class Marker extends String {
  readonly kind: MarkerKind;
  constructor(kind: MarkerKind, text: string) {
    super(text);
    this.kind = kind;
  }
  /** A marker is a string to every filter after it (`| as_native | length` counts characters, as in dbt). */
  get text(): string {
    return this.valueOf();
  }
}

/** What one render saw: the markers the filters made, and the value of a whole-template expression. */
interface RenderState {
  markers: Marker[];
  captured?: { value: unknown };
}

class MissingEnvVar extends Error {}
class ConversionError extends Error {}

/** Python's str() of a value, as Jinja joins several output nodes. */
function pythonText(value: unknown): string {
  if (typeof value === "string" || value instanceof String) return value.toString();
  if (value === undefined) return "";
  return pythonRepr(value);
}

function pythonRepr(value: unknown): string {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  if (typeof value === "string" || value instanceof String) return `'${value.toString().replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(", ")}]`;
  if (typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`).join(", ")}}`;
  return String(value);
}

function makeEnvironment(context: RenderContext, state: RenderState): Nunjucks.Environment {
  const environment = new (nunjucks().Environment)(null, { autoescape: false, throwOnUndefined: true });
  const mark = (kind: MarkerKind) => (value: unknown) => {
    const marker = new Marker(kind, pythonText(value instanceof Marker ? value.text : value));
    state.markers.push(marker);
    return marker;
  };
  environment.addFilter("as_text", mark("text"));
  environment.addFilter("as_bool", mark("bool"));
  environment.addFilter("as_number", mark("number"));
  environment.addFilter("as_native", mark("native"));
  // Jinja's `is none`; nunjucks calls it `null` (addTest is missing from @types/nunjucks).
  (environment as unknown as { addTest(name: string, test: (value: unknown) => boolean): void }).addTest("none", (value: unknown) => value === null || value === undefined);
  environment.addGlobal("env_var", (name: unknown, fallback?: unknown) => {
    const key = String(name);
    const value = readNamedEnv(context.env, key);
    if (value !== undefined) return value;
    if (fallback !== undefined && fallback !== null) return fallback;
    throw new MissingEnvVar(`environment variable ${key} is not set and has no default`);
  });
  environment.addGlobal("var", (name: unknown, fallback?: unknown) => {
    const key = String(name);
    if (context.vars && key in context.vars) return context.vars[key];
    if (fallback !== undefined) return fallback;
    throw new MissingEnvVar(`var('${key}') is not given (--vars) and has no default`);
  });
  environment.addGlobal("fromjson", (text: unknown, fallback?: unknown) => {
    try {
      return JSON.parse(String(text)) as unknown;
    } catch {
      return fallback ?? null;
    }
  });
  environment.addGlobal("tojson", (value: unknown) => JSON.stringify(value));
  environment.addGlobal("fromyaml", (text: unknown, fallback?: unknown) => {
    try {
      return parseYaml(String(text)) as unknown;
    } catch {
      return fallback ?? null;
    }
  });
  environment.addGlobal("toyaml", (value: unknown) => stringifyYaml(value));
  environment.addGlobal("local_md5", (value: unknown) => createHash("md5").update(String(value)).digest("hex"));
  environment.addGlobal("__dbt_activation_capture", (value: unknown) => {
    state.captured = { value };
    return value;
  });
  return environment;
}

interface ParsedNode {
  typename: string;
  children: ParsedNode[];
  fields: string[];
  [field: string]: unknown;
}

/**
 * Whether Jinja folds the expression at compile time: one without a variable or a call (a filter's name aside). Jinja
 * emits a folded value as its text, so `{{ 5432 }}` and `{{ [1, 2] }}` render as strings where `{{ x | int }}` does not.
 */
function isConstant(node: ParsedNode): boolean {
  if (node.typename === "Symbol" || node.typename === "FunCall") return false;
  const children = node.typename === "NodeList" || node.typename === "Array" || node.typename === "Dict" ? node.children : [];
  const fields = node.fields.filter((f) => !(node.typename === "Filter" && f === "name")).map((f) => node[f]);
  return [...children, ...fields].every((child) => !(child && typeof child === "object" && "typename" in child) || isConstant(child as ParsedNode));
}

/** One `{{ expression }}` and nothing else (whitespace control allowed), as nunjucks' parser sees it. */
function wholeExpression(template: string): { source: string; constant: boolean } | undefined {
  const match = /^\{\{-?([\s\S]*?)-?\}\}$/.exec(template);
  if (!match) return undefined;
  // The regex is lazy: `{{ a }}{{ b }}` matches it too. The parser says how many output nodes there are.
  try {
    // nunjucks exports its parser (untyped in @types/nunjucks).
    const { parser } = nunjucks() as unknown as { parser: { parse(src: string, extensions: unknown[], opts: object): ParsedNode } };
    const root = parser.parse(template, [], {});
    const only = root.children.length === 1 ? root.children[0] : undefined;
    const outputs = only?.typename === "Output" ? only.children : [];
    return outputs.length === 1 && outputs[0]!.typename !== "TemplateData" ? { source: match[1]!, constant: isConstant(outputs[0]!) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Renders one YAML string value as dbt does (see the module comment). `where` names the file and key for errors;
 * messages never contain a rendered value (it may be a secret), only the template.
 */
export function renderDbtValue(template: string, context: RenderContext, where: string): unknown {
  if (!template.includes("{{") && !template.includes("{%") && !template.includes("{#")) return template;
  const state: RenderState = { markers: [] };
  const environment = makeEnvironment(context, state);
  let text: string;
  const expression = wholeExpression(template);
  try {
    text = environment.renderString(expression === undefined ? template : `{{ __dbt_activation_capture((${expression.source})) }}`, {});
  } catch (error) {
    throw renderError(error, template, where);
  }
  // A folded constant is emitted as its text: `{{ 5432 }}` is the string "5432".
  if (expression?.constant && state.captured && !(state.captured.value instanceof Marker)) return pythonText(state.captured.value);
  return nativeValue(text, state, template, where);
}

function renderError(error: unknown, template: string, where: string): BadInputError {
  // nunjucks wraps what a global threw as "(unknown path)\n  Error: …": keep the cause's own words.
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause !== undefined) cause = cause.cause;
  const message = errorMessage(cause)
    .replace(/^\(unknown path\)\s*(\[Line \d+, Column \d+\])?\s*/, "")
    .replace(/^\s*(Template render error:\s*)?/, "")
    .replace(/^Error: /, "")
    .trim();
  return new BadInputError(`cannot render ${JSON.stringify(template)}: ${message}`, { where, cause });
}

/** dbt_common's quoted_native_concat, applied to what nunjucks produced. */
function nativeValue(text: string, state: RenderState, template: string, where: string): unknown {
  if (state.captured) {
    const value = state.captured.value;
    if (value instanceof Marker) return markerValue(value, template, where);
    // One node that is not a marker: returned as it is (a string stays a string, `| int` gives a number).
    return value === undefined ? "" : value;
  }
  // A conditional whose taken branch was one marked expression, e.g. `{% if … %}{{ x | as_number }}{% endif %}`.
  const last = state.markers.at(-1);
  if (state.markers.length === 1 && last && text === last.text) return markerValue(last, template, where);
  return text;
}

function markerValue(marker: Marker, template: string, where: string): unknown {
  if (marker.kind === "text") return marker.text;
  const literal = pythonLiteral(marker.text);
  const value = literal.ok ? literal.value : marker.text;
  if (marker.kind === "bool" && typeof value !== "boolean") {
    throw new BadInputError(`cannot render ${JSON.stringify(template)}: the value is not a Python bool (True or False), as | as_bool needs`, { where });
  }
  if (marker.kind === "number" && typeof value !== "number") {
    throw new BadInputError(`cannot render ${JSON.stringify(template)}: the value is not a number, as | as_number needs`, { where });
  }
  return value;
}

type Literal = { ok: true; value: unknown } | { ok: false };

/**
 * Python's `ast.literal_eval` for what profiles hold: numbers, strings, True/False/None, lists, tuples, dicts.
 * Leading spaces and tabs are stripped there, as trailing whitespace is.
 */
export function pythonLiteral(source: string): Literal {
  let i = 0;
  const text = source.replace(/^[ \t]+/, "").replace(/\s+$/, "");
  const fail = (): never => {
    throw new ConversionError();
  };
  const skip = (): void => {
    while (i < text.length && /[ \t\n\r]/.test(text[i]!)) i += 1;
  };
  const value = (): unknown => {
    skip();
    const rest = text.slice(i);
    const number = /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/.exec(rest);
    if (number) {
      const raw = number[0].replaceAll("_", "");
      const body = raw.replace(/^[+-]/, "");
      // Python refuses a decimal integer with a leading zero ("0123"), but not "0" or "00".
      if (/^\d+$/.test(body) && /^0+[1-9]/.test(body)) fail();
      i += number[0].length;
      const sign = raw.startsWith("-") ? -1 : 1;
      if (/^0[xX]/.test(body)) return sign * parseInt(body.slice(2), 16);
      if (/^0[oO]/.test(body)) return sign * parseInt(body.slice(2), 8);
      if (/^0[bB]/.test(body)) return sign * parseInt(body.slice(2), 2);
      return sign * Number(body);
    }
    for (const [word, result] of [["True", true], ["False", false], ["None", null]] as const) {
      if (rest.startsWith(word) && !/[\w]/.test(rest[word.length] ?? "")) {
        i += word.length;
        return result;
      }
    }
    const quote = text[i];
    if (quote === "'" || quote === '"') {
      let out = "";
      i += 1;
      while (i < text.length && text[i] !== quote) {
        if (text[i] === "\\") {
          const next = text[i + 1] ?? fail();
          out += { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"' }[next] ?? `\\${next}`;
          i += 2;
        } else {
          out += text[i];
          i += 1;
        }
      }
      if (text[i] !== quote) fail();
      i += 1;
      return out;
    }
    const close = { "[": "]", "(": ")", "{": "}" }[quote ?? ""];
    if (close) {
      i += 1;
      const items: unknown[] = [];
      const entries: [unknown, unknown][] = [];
      skip();
      while (text[i] !== close) {
        const item = value();
        skip();
        if (quote === "{") {
          if (text[i] !== ":") fail();
          i += 1;
          entries.push([item, value()]);
          skip();
        } else items.push(item);
        if (text[i] === ",") {
          i += 1;
          skip();
        } else if (text[i] !== close) fail();
      }
      i += 1;
      return quote === "{" ? Object.fromEntries(entries.map(([k, v]) => [String(k), v])) : items;
    }
    return fail();
  };
  try {
    // literal_eval strips leading spaces and tabs; a leading newline is an error.
    if (/^[ \t]*[\n\r]/.test(source)) return { ok: false };
    const result = value();
    skip();
    return i === text.length ? { ok: true, value: result } : { ok: false };
  } catch (error) {
    if (error instanceof ConversionError) return { ok: false };
    throw error;
  }
}

/** Renders every string in a YAML tree; `keypath` tells whether a failure may fall back (dbt's password rule). */
export function renderDbtTree(value: unknown, context: RenderContext, where: string, keypath: string[] = []): unknown {
  if (typeof value === "string") {
    try {
      return renderDbtValue(value, context, where);
    } catch (error) {
      // dbt: "Passwords sometimes contain jinja-esque characters": an unrenderable password is taken as written.
      if (keypath.includes("password") && error instanceof BadInputError && !(error.cause instanceof MissingEnvVar)) return value;
      throw error;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => renderDbtTree(v, context, `${where}[${i}]`, [...keypath, String(i)]));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDbtTree(v, context, `${where}.${k}`, [...keypath, k])]));
  }
  return value;
}
