/**
 * Maps zod issues on a contract back to its YAML: each issue becomes a problem at the node it is about (the key for
 * an unknown or invalid key, the enclosing mapping for a missing field, the value otherwise), with a "did you mean"
 * for unknown keys and values outside an enum.
 */
import type { Node } from "yaml";
import type { z } from "zod";
import { contractSchema } from "../contract/schema.ts";
import { nodeLocation, resolvePath, type SourceContract } from "./source.ts";
import { didYouMean } from "./suggest.ts";
import type { Problem } from "./types.ts";

type Path = PropertyKey[];

interface ZodDef {
  type: string;
  innerType?: ZodLike;
  shape?: Record<string, ZodLike>;
  valueType?: ZodLike;
  element?: ZodLike;
  options?: ZodLike[];
  in?: ZodLike;
}
interface ZodLike {
  _zod: { def: ZodDef };
}

function def(schema: ZodLike): ZodDef {
  return schema._zod.def;
}

/** The schemas a value at this path may have to match (several under a union). */
function schemasAt(schema: ZodLike, path: Path): ZodLike[] {
  let current: ZodLike[] = [schema];
  for (const segment of path) {
    const next: ZodLike[] = [];
    for (const s of current.flatMap(unwrap)) {
      const d = def(s);
      if (d.type === "object" && d.shape && typeof segment === "string" && d.shape[segment]) next.push(d.shape[segment]);
      else if (d.type === "record" && d.valueType) next.push(d.valueType);
      else if (d.type === "array" && d.element && typeof segment === "number") next.push(d.element);
    }
    current = next;
  }
  return current.flatMap(unwrap);
}

/** Strips optional/default/nullable/pipe wrappers and spreads unions. */
function unwrap(schema: ZodLike): ZodLike[] {
  const d = def(schema);
  if ((d.type === "optional" || d.type === "default" || d.type === "nullable" || d.type === "prefault" || d.type === "readonly") && d.innerType) return unwrap(d.innerType);
  if (d.type === "pipe" && d.in) return unwrap(d.in);
  if (d.type === "union" && d.options) return d.options.flatMap(unwrap);
  return [schema];
}

/** The keys a mapping at this path of a contract may have. */
export function knownKeys(path: Path, schema: ZodLike = contractSchema as unknown as ZodLike): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) {
    const d = def(s);
    if (d.type === "object" && d.shape) for (const k of Object.keys(d.shape)) keys.add(k);
  }
  return [...keys];
}

function valueAt(raw: unknown, path: Path): unknown {
  let current = raw;
  for (const segment of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function dotted(path: Path): string {
  return path.map(String).join(".");
}

type Issue = z.core.$ZodIssue;

/** Picks, in a failed union, the branch the value was meant for: the one whose failure is not the value's type. */
function unionBranch(issue: Extract<Issue, { code: "invalid_union" }>): Issue[] | undefined {
  const typed = issue.errors.filter((branch) => !branch.some((i) => i.code === "invalid_type" && i.path.length === 0));
  return typed.length === 1 ? typed[0] : undefined;
}

function unionExpectation(issue: Extract<Issue, { code: "invalid_union" }>): string {
  const expected = issue.errors.flatMap((branch) => branch.filter((i) => i.code === "invalid_type" && i.path.length === 0).map((i) => (i as { expected: string }).expected));
  if (expected.length === 0) return issue.message;
  const names = expected.map((e) => (e === "object" ? "a mapping" : `a ${e}`));
  return `expected ${names.join(" or ")}`;
}

/** Flattens union issues into the branch that applies, with paths made absolute. */
function flatten(issues: readonly Issue[], prefix: Path = []): { issue: Issue; path: Path }[] {
  const out: { issue: Issue; path: Path }[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union") {
      const branch = unionBranch(issue);
      if (branch) {
        out.push(...flatten(branch, path));
        continue;
      }
    }
    out.push({ issue, path });
  }
  return out;
}

export function contractProblems(contract: SourceContract, issues: readonly Issue[]): Problem[] {
  const { source } = contract;
  const base = { severity: "error" as const, kind: "schema" as const, file: source.file, model: contract.model.name, contract: contract.label };
  const at = (node: Node | undefined) => nodeLocation(source, node ?? contract.node);
  const problems: Problem[] = [];
  for (const { issue, path } of flatten(issues)) {
    const resolved = resolvePath(contract.node, path);
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys(path);
      for (const key of issue.keys) {
        const keyNode = resolvePath(contract.node, [...path, key]).key;
        problems.push({ ...base, ...at(keyNode), path: dotted([...path, key]), message: `unknown key "${key}"${didYouMean(key, known)}` });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      const detail = issue.issues.map((i) => i.message).join("; ");
      problems.push({ ...base, ...at(resolved.key), path: dotted(path), message: `invalid key "${String(path.at(-1))}": ${detail}` });
      continue;
    }
    const value = valueAt(contract.raw, path);
    if (issue.code === "invalid_type" && value === undefined) {
      // The field is missing: point at the mapping that should hold it.
      problems.push({ ...base, ...at(resolved.node ?? resolved.deepest), path: dotted(path), message: "Required" });
      continue;
    }
    let message: string = issue.message;
    if (issue.code === "invalid_value" && typeof value === "string") {
      const allowed = issue.values.map(String);
      message = `"${value}" is not one of ${allowed.join(" | ")}${didYouMean(value, allowed)}`;
    } else if (issue.code === "invalid_union") {
      message = unionExpectation(issue);
    }
    problems.push({ ...base, ...at(resolved.node ?? resolved.deepest), path: dotted(path), message });
  }
  return problems;
}
