/**
 * Loaded into the CLI's process with `node --import` (NODE_OPTIONS) to see what its module loading does, through
 * Node's own resolution hooks, with none of our code replaced:
 * - HIDE_PACKAGES=a,b: those npm packages resolve as if not installed (Node's own ERR_MODULE_NOT_FOUND), as after
 *   `npm install --omit=optional`;
 * - LOADED_PACKAGES_FILE=path: the npm packages the process loaded are written there, one a line, at exit.
 */
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const hidden = (process.env.HIDE_PACKAGES ?? "").split(",").filter(Boolean);
const loaded = new Set<string>();

registerHooks({
  resolve(specifier, context, next) {
    if (hidden.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
      throw Object.assign(new Error(`Cannot find package '${specifier}' imported from ${context.parentURL ?? "?"}`), { code: "ERR_MODULE_NOT_FOUND" });
    }
    const resolved = next(specifier, context);
    const name = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url)?.[1];
    if (name) loaded.add(name);
    return resolved;
  },
});

const file = process.env.LOADED_PACKAGES_FILE;
if (file) process.on("exit", () => writeFileSync(file, [...loaded].sort().join("\n")));
