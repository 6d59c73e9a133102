/** Each engine's driver package is loaded only for a profile that names it, and a missing one is named. */
import { describe, expect, it } from "vitest";
import { loadEngine } from "../../src/warehouse/index.ts";

describe("loadEngine", () => {
  it("names the npm package to install when an engine's driver is missing", async () => {
    const missing = Object.assign(new Error("Cannot find package 'snowflake-sdk'"), { code: "ERR_MODULE_NOT_FOUND" });
    await expect(loadEngine(() => Promise.reject(missing), "snowflake-sdk", "snowflake")).rejects.toMatchObject({
      name: "BadInputError",
      message: "the profile's warehouse type snowflake needs the npm package snowflake-sdk, which is not installed: npm install snowflake-sdk",
    });
  });

  it("passes any other failure through, and the module when it loads", async () => {
    await expect(loadEngine(() => Promise.reject(new TypeError("a bug")), "pg", "postgres")).rejects.toThrow(TypeError);
    await expect(loadEngine(() => Promise.resolve("module"), "pg", "postgres")).resolves.toBe("module");
  });
});
