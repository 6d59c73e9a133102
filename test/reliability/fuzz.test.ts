/**
 * Property-based fuzzing (fast-check) of the contract parser and the artifact readers: on arbitrary input they never
 * throw anything but a `BadInputError` (zod's safeParse never throws at all), and what they accept satisfies what
 * the rest of the syncer relies on, so garbage is never accepted.
 */
import fc from "fast-check";
import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { loadContracts } from "../../src/contract/load.ts";
import { contractSchema, DESTINATION_TYPES, SYNC_MODES, type ContractSpec } from "../../src/contract/schema.ts";
import { readManifest, readRunResults, type Manifest } from "../../src/dbt/artifacts.ts";
import { BadInputError } from "../../src/errors.ts";

const RUNS = 400;
// Seeded, so a run is reproducible and the `accepted` branch counts below cannot vary from run to run.
const SEED = 20261122;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

const VALID = {
  name: "contact_engagement_to_hubspot",
  decision: "Lifecycle marketing picks the nurture track",
  status: "launch",
  grain: "contact",
  key: "email",
  destination: { type: "hubspot", object: "contacts", match: { field: "email" }, mode: "upsert", on_removed: "keep" },
  fields: { first_name: "firstname", engagement_band: { to: "engagement_band", on_null: "skip", allowed: ["high", "medium", "low"] } },
  freshness: { column: "scored_at", max_age: "24h" },
  suppression: { consent: { column: "marketing_consent", updated_at: "consent_updated_at", max_lag: "365d" } },
  gates: { min_rows: 5, max_change: { percent: 50 }, max_null_rate: { engagement_band: 0.05 }, match_rate_not_needed: "creates the contacts it syncs" },
  owners: { model: "a@x.io", destination: "b@x.io" },
  monitoring: { pause_if: { failed_rows_percent: 5 }, rollback: "restore_previous" },
};

/** What the syncer relies on in a parsed contract. */
function expectSound(spec: ContractSpec): void {
  expect(spec.name).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(spec.key).toMatch(IDENTIFIER);
  expect(DESTINATION_TYPES).toContain(spec.destination.type);
  expect(SYNC_MODES).toContain(spec.destination.mode);
  expect(spec.destination.object.length).toBeGreaterThan(0);
  expect(spec.destination.match.field.length).toBeGreaterThan(0);
  expect(["launch", "caveats", "paused"]).toContain(spec.status);
  const columns = Object.keys(spec.fields);
  expect(columns.length).toBeGreaterThan(0);
  const targets = new Set<string>();
  for (const column of columns) {
    expect(column).toMatch(IDENTIFIER);
    const field = spec.fields[column]!;
    const to = typeof field === "string" ? field : field.to;
    expect(to.length).toBeGreaterThan(0);
    expect(targets.has(to)).toBe(false);
    targets.add(to);
  }
  if (spec.freshness) expect(spec.freshness.column).toMatch(IDENTIFIER);
  for (const column of Object.keys(spec.gates?.max_null_rate ?? {})) expect(columns).toContain(column);
}

/** A valid contract with one value, somewhere in it, replaced by arbitrary JSON (or removed). */
const mutatedContract = fc
  .tuple(fc.nat(), fc.option(fc.jsonValue(), { nil: undefined }), fc.string({ maxLength: 12 }), fc.boolean())
  .map(([pick, value, extraKey, addKey]) => {
    const copy = structuredClone(VALID) as Record<string, unknown>;
    const paths: string[][] = [];
    const walk = (node: unknown, path: string[]): void => {
      if (path.length > 0) paths.push(path);
      if (node && typeof node === "object" && !Array.isArray(node)) for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    };
    walk(copy, []);
    const path = paths[pick % paths.length]!;
    let parent = copy as Record<string, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
    const last = path[path.length - 1]!;
    if (addKey) parent[extraKey] = value ?? null;
    else if (value === undefined) delete parent[last];
    else parent[last] = value;
    return copy;
  });

function manifestWith(activation: unknown): Manifest {
  return {
    metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json", invocation_id: "i" },
    nodes: {
      "model.p.m": { unique_id: "model.p.m", resource_type: "model", name: "m", package_name: "p", patch_path: "p://models/schema.yml", config: { meta: { activation } } },
    },
  } as Manifest;
}

describe("contract parser", () => {
  it("the reference contract parses (so the mutations start from a valid one)", () => {
    expect(contractSchema.safeParse(VALID).success).toBe(true);
  });

  it("contractSchema never throws on arbitrary input, and what it accepts is sound", () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const parsed = contractSchema.safeParse(input);
        if (parsed.success) expectSound(parsed.data);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("mutations of a valid contract are either sound or rejected with a field path", () => {
    let accepted = 0;
    fc.assert(
      fc.property(mutatedContract, (input) => {
        const parsed = contractSchema.safeParse(input);
        if (parsed.success) {
          accepted += 1;
          expectSound(parsed.data);
        } else {
          expect(parsed.error.issues.length).toBeGreaterThan(0);
          for (const issue of parsed.error.issues) expect(typeof issue.message).toBe("string");
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // Both branches are exercised.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(RUNS);
  });

  it("loadContracts returns sound contracts or throws a BadInputError naming the model and contract", () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), mutatedContract, fc.array(mutatedContract, { maxLength: 3 })), (activation) => {
        let contracts;
        try {
          contracts = loadContracts(manifestWith(activation));
        } catch (error) {
          expect(error).toBeInstanceOf(BadInputError);
          const details = (error as BadInputError).details;
          expect(details.length).toBeGreaterThan(0);
          for (const d of details) expect(d).toMatch(/^models\/schema\.yml: model m, contract [^,]+, field /);
          return;
        }
        for (const c of contracts) expectSound(c.spec);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe("artifact readers", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(inject("scratchRoot"), "fuzz-"));
  });

  const version = fc.constantFrom(
    "https://schemas.getdbt.com/dbt/manifest/v12.json",
    "https://schemas.getdbt.com/dbt/run-results/v6.json",
    "https://schemas.getdbt.com/dbt/manifest/v11.json",
    "v12",
    "",
  );
  /** Artifact-shaped JSON: right and wrong versions, nodes and results of arbitrary shapes. */
  const artifactLike = fc.record(
    {
      metadata: fc.record({ dbt_schema_version: fc.oneof(version, version, fc.jsonValue()), invocation_id: fc.oneof(fc.uuid(), fc.jsonValue()) }, { requiredKeys: ["dbt_schema_version"] }),
      nodes: fc.oneof(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.record({ unique_id: fc.string(), resource_type: fc.constantFrom("model", "test", 3), name: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] })),
        fc.jsonValue(),
      ),
      results: fc.oneof(fc.array(fc.record({ unique_id: fc.string(), status: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] }), { maxLength: 3 }), fc.jsonValue()),
      args: fc.oneof(fc.record({ which: fc.constantFrom("build", "run", "test") }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  const fileContent = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    artifactLike.map((v) => JSON.stringify(v)),
    fc.string(),
    fc.constantFrom("", "{", "null", "[]", '{"metadata": null}', "\u0000\u0001"),
  );

  for (const [label, read, expectSoundArtifact] of [
    [
      "readManifest",
      readManifest,
      (m: Awaited<ReturnType<typeof readManifest>>) => {
        expect(m.metadata.dbt_schema_version).toMatch(/\/v12\.json$/);
        expect(typeof m.nodes).toBe("object");
        for (const node of Object.values(m.nodes)) expect(typeof node.unique_id).toBe("string");
      },
    ],
    [
      "readRunResults",
      readRunResults,
      (r: Awaited<ReturnType<typeof readRunResults>>) => {
        expect(r.metadata.dbt_schema_version).toMatch(/\/v6\.json$/);
        expect(Array.isArray(r.results)).toBe(true);
      },
    ],
  ] as const) {
    it(`${label} on arbitrary files: a sound artifact or a BadInputError, nothing else`, async () => {
      let n = 0;
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(fileContent, async (content) => {
          const path = join(dir, `${label}-${n++}.json`);
          await writeFile(path, content);
          try {
            const artifact = await read(path);
            (expectSoundArtifact as (a: unknown) => void)(artifact);
            accepted += 1;
          } catch (error) {
            if (!(error instanceof BadInputError)) throw error;
            expect(error.message).toContain(path);
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
      // Both branches are exercised: some generated artifacts are well-formed.
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(RUNS);
    });
  }
});
