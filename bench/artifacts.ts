/**
 * Synthetic dbt artifacts of one `dbt build` invocation: manifest v12 and run_results v6 with the fields dbt writes
 * (so their size per node is realistic), models with columns and optional activation contracts, and generic tests
 * attached to the models, every node passing.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ArtifactOptions {
  project: string;
  models: number;
  /** Generic tests per model: unique + not_null on the key first, then accepted_values and relationships. */
  testsPerModel: number;
  /** The relation a model builds (quoted for the warehouse). */
  relation: (i: number) => string;
  /** Model names. */
  modelName?: (i: number) => string;
  /** The model's key column (tested unique and not_null). */
  key?: string;
  /** Extra columns declared on each model. */
  columns?: string[];
  /** The activation contract(s) a model carries, if any. */
  contract?: (i: number, name: string) => unknown;
}

const TEST_KINDS = ["unique", "not_null", "accepted_values", "relationships"] as const;

function column(name: string): Record<string, unknown> {
  return { name, description: `The ${name.replaceAll("_", " ")} of the row, as the source system reports it.`, meta: {}, data_type: null, constraints: [], quote: null, tags: [], granularity: null };
}

export function writeArtifacts(targetDir: string, options: ArtifactOptions): { invocationId: string; manifestPath: string; runResultsPath: string } {
  const invocationId = randomUUID();
  const generatedAt = new Date().toISOString();
  const project = options.project;
  const key = options.key ?? "id";
  const columnNames = [key, ...(options.columns ?? ["name", "status", "updated_at", "owner_id", "amount"])];
  const nodes: Record<string, unknown> = {};
  const results: Record<string, unknown>[] = [];
  const timing = (at: string) => [
    { name: "compile", started_at: at, completed_at: at },
    { name: "execute", started_at: at, completed_at: at },
  ];
  const result = (uniqueId: string, status: string, relation: string | null) => ({
    status,
    timing: timing(generatedAt),
    thread_id: "Thread-1 (worker)",
    execution_time: 0.05,
    adapter_response: status === "success" ? { _message: "OK", code: "OK", rows_affected: 100 } : {},
    message: status === "success" ? "OK" : null,
    failures: status === "pass" ? 0 : null,
    unique_id: uniqueId,
    compiled: true,
    compiled_code: "select 1",
    relation_name: relation,
    batch_results: null,
  });

  for (let i = 0; i < options.models; i += 1) {
    const name = options.modelName?.(i) ?? `model_${String(i).padStart(5, "0")}`;
    const modelId = `model.${project}.${name}`;
    const relation = options.relation(i);
    const activation = options.contract?.(i, name);
    const deps = i > 0 ? [`model.${project}.${options.modelName?.(i - 1) ?? `model_${String(i - 1).padStart(5, "0")}`}`] : [];
    nodes[modelId] = {
      database: project,
      schema: "main",
      name,
      resource_type: "model",
      package_name: project,
      path: `marts/${name}.sql`,
      original_file_path: `models/marts/${name}.sql`,
      unique_id: modelId,
      fqn: [project, "marts", name],
      alias: name,
      checksum: { name: "sha256", checksum: "0".repeat(64) },
      config: {
        enabled: true,
        alias: null,
        schema: null,
        database: null,
        tags: [],
        meta: activation === undefined ? {} : { activation },
        group: null,
        materialized: "table",
        incremental_strategy: null,
        persist_docs: {},
        quoting: {},
        column_types: {},
        full_refresh: null,
        unique_key: null,
        on_schema_change: "ignore",
        on_configuration_change: "apply",
        grants: {},
        packages: [],
        docs: { show: true, node_color: null },
        contract: { enforced: false, alias_types: true },
        access: "protected",
      },
      tags: [],
      description: `Model ${name}: one row per entity, joined from staging and enriched for activation. Owned by analytics engineering.`,
      columns: Object.fromEntries(columnNames.map((c) => [c, column(c)])),
      meta: {},
      group: null,
      docs: { show: true, node_color: null },
      patch_path: `${project}://models/marts/schema.yml`,
      build_path: null,
      unrendered_config: { materialized: "table" },
      created_at: 1_700_000_000 + i,
      relation_name: relation,
      raw_code: `select\n  ${columnNames.join(",\n  ")}\nfrom {{ ref('${deps[0]?.split(".").at(-1) ?? "stg_source"}') }}\nwhere ${key} is not null`,
      language: "sql",
      refs: deps.map((d) => ({ name: d.split(".").at(-1), package: null, version: null })),
      sources: [],
      metrics: [],
      depends_on: { macros: [], nodes: deps },
      compiled_path: `target/compiled/${project}/models/marts/${name}.sql`,
      contract: { enforced: false, alias_types: true, checksum: null },
      access: "protected",
      constraints: [],
      version: null,
      latest_version: null,
      deprecation_date: null,
    };
    results.push(result(modelId, "success", relation));

    for (let t = 0; t < options.testsPerModel; t += 1) {
      const kind = TEST_KINDS[t % TEST_KINDS.length]!;
      const columnName = t < 2 ? key : columnNames[(t % (columnNames.length - 1)) + 1]!;
      const testName = `${kind}_${name}_${columnName}${t >= TEST_KINDS.length ? `_${t}` : ""}`;
      const testId = `test.${project}.${testName}.${String(i * 31 + t).padStart(10, "0").slice(0, 10)}`;
      nodes[testId] = {
        database: project,
        schema: "main_dbt_test__audit",
        name: testName,
        resource_type: "test",
        package_name: project,
        path: `${testName}.sql`,
        original_file_path: "models/marts/schema.yml",
        unique_id: testId,
        fqn: [project, "marts", testName],
        alias: testName,
        checksum: { name: "none", checksum: "" },
        config: { enabled: true, alias: null, schema: "dbt_test__audit", database: null, tags: [], meta: {}, group: null, materialized: "test", severity: "ERROR", store_failures: null, store_failures_as: null, where: null, limit: null, fail_calc: "count(*)", warn_if: "!= 0", error_if: "!= 0" },
        tags: [],
        description: "",
        columns: {},
        meta: {},
        group: null,
        docs: { show: true, node_color: null },
        patch_path: null,
        build_path: null,
        unrendered_config: {},
        created_at: 1_700_000_000 + i,
        relation_name: null,
        raw_code: `{{ test_${kind}(**_dbt_generic_test_kwargs) }}`,
        language: "sql",
        refs: [{ name, package: null, version: null }],
        sources: [],
        metrics: [],
        depends_on: { macros: [`macro.dbt.test_${kind}`], nodes: [modelId] },
        compiled_path: null,
        contract: { enforced: false, alias_types: true, checksum: null },
        column_name: columnName,
        file_key_name: `models.${name}`,
        attached_node: modelId,
        test_metadata: { name: kind, kwargs: { column_name: columnName, model: `{{ get_where_subquery(ref('${name}')) }}` }, namespace: null },
      };
      results.push(result(testId, "pass", null));
    }
  }

  const manifest = {
    metadata: {
      dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json",
      dbt_version: "1.11.0",
      generated_at: generatedAt,
      invocation_id: invocationId,
      invocation_started_at: generatedAt,
      env: {},
      project_name: project,
      project_id: "0".repeat(32),
      user_id: null,
      send_anonymous_usage_stats: false,
      adapter_type: "duckdb",
      quoting: { database: true, schema: true, identifier: true, column: null },
    },
    nodes,
    sources: {},
    macros: {},
    docs: {},
    exposures: {},
    metrics: {},
    groups: {},
    selectors: {},
    disabled: {},
    parent_map: {},
    child_map: {},
    group_map: {},
    saved_queries: {},
    semantic_models: {},
    unit_tests: {},
    functions: {},
  };
  const runResults = {
    metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/run-results/v6.json", dbt_version: "1.11.0", generated_at: generatedAt, invocation_id: invocationId, invocation_started_at: generatedAt, env: {} },
    results,
    elapsed_time: 42.0,
    args: { which: "build", project_dir: ".", profiles_dir: ".", target: null, select: [], exclude: [], vars: {}, quiet: false, log_format: "default", invocation_command: "dbt build" },
  };
  mkdirSync(targetDir, { recursive: true });
  const manifestPath = join(targetDir, "manifest.json");
  const runResultsPath = join(targetDir, "run_results.json");
  writeFileSync(manifestPath, JSON.stringify(manifest));
  writeFileSync(runResultsPath, JSON.stringify(runResults));
  return { invocationId, manifestPath, runResultsPath };
}

/** A launch-ready contract (every readiness check answered), for the benchmarks' synthetic projects. */
export function launchReadyContract(name: string, key: string, fields: Record<string, string>, object = "contacts"): Record<string, unknown> {
  return {
    name,
    decision: "Lifecycle marketing picks the nurture track per contact before each weekly send",
    status: "launch",
    grain: "contact",
    key,
    destination: { type: "hubspot", object, match: { field: "email" }, mode: "upsert", on_removed: "keep" },
    fields,
    freshness: { column: "scored_at", max_age: "24h" },
    suppression: { not_needed: "synthetic benchmark data: no real person is contacted" },
    // The benchmark creates every contact: a match rate before the first sync would be 0 (and stop it).
    gates: { match_rate_not_needed: "synthetic benchmark contacts are created by the sync" },
    owners: { model: "analytics-eng@example.com", destination: "marketing-ops@example.com", workflow: "growth@example.com" },
    monitoring: { pause_if: { failed_rows_percent: 5 }, rollback: "restore_previous" },
  };
}
