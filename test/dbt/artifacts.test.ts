/** Reading dbt's artifacts from a target directory: which error a user meets when they are missing. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { localArtifacts } from "../../src/dbt/artifacts.ts";

describe("localArtifacts", () => {
  it("names manifest.json when both artifacts are missing, every time (both are read side by side)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "artifacts-"));
    // Each read races the two missing files: the message must not depend on which read fails first.
    const messages = await Promise.all(Array.from({ length: 40 }, () => localArtifacts(dir).read().then(() => "read", (error: Error) => error.message)));
    expect(new Set(messages)).toEqual(new Set([`manifest.json not found at ${join(dir, "manifest.json")}`]));
  });
});
