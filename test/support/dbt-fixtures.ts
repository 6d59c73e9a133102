/**
 * The fixture tests of integration_tests, read from a dbt build's artifacts: every test tagged expect_pass must pass,
 * every one tagged expect_fail must fail with meta.expect_failures failing rows. Shared by the package's suites on
 * DuckDB and PostgreSQL (test/dbt-package/dbt-package.test.ts) and on Snowflake emulated by fakesnow (test/compat/warehouses.test.ts).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface TestNode {
  unique_id: string;
  name: string;
  resource_type: string;
  config: { tags?: string[]; meta?: Record<string, unknown>; store_failures?: boolean | null };
  test_metadata?: { name: string; namespace: string | null };
}

export interface Result {
  unique_id: string;
  status: string;
  failures: number | null;
  message: string | null;
}

export async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

export async function resultsOf(targetPath: string): Promise<Map<string, Result>> {
  const runResults = await readJson<{ results: Result[] }>(join(targetPath, "run_results.json"));
  return new Map(runResults.results.map((r) => [r.unique_id, r]));
}

export function fixtureTests(nodes: Record<string, TestNode>): TestNode[] {
  return Object.values(nodes).filter((n) => n.resource_type === "test" && n.config.tags?.some((t) => t === "expect_pass" || t === "expect_fail"));
}

export const expected = (n: TestNode): "pass" | "fail" => (n.config.tags?.includes("expect_fail") ? "fail" : "pass");

/** Each fixture test whose result is not the expected one (or has the wrong number of failing rows), as a line. */
export function fixtureMismatches(tests: TestNode[], results: Map<string, Result>): string[] {
  const mismatches: string[] = [];
  for (const node of tests) {
    const result = results.get(node.unique_id);
    const want = expected(node);
    const failures = node.config.meta?.expect_failures;
    if (!result) mismatches.push(`${node.name}: no result`);
    else if (result.status !== want) mismatches.push(`${node.name}: ${result.status}, expected ${want} (${result.message ?? ""})`);
    else if (typeof failures === "number" && result.failures !== failures) mismatches.push(`${node.name}: ${result.failures} failing rows, expected ${failures}`);
  }
  return mismatches;
}

/** Results that errored, and fixture models or seeds (fx_*) that did not succeed. */
export function brokenNodes(results: Map<string, Result>): string[] {
  // Other nodes may be skipped on purpose (children of account_health, whose not_null test fails).
  const fixture = (id: string): boolean => /^(model|seed)\.activation_integration_tests\.fx_/.test(id);
  return [...results.values()].filter((r) => r.status === "error" || (fixture(r.unique_id) && r.status !== "success")).map((r) => `${r.unique_id}: ${r.status} ${r.message ?? ""}`);
}
