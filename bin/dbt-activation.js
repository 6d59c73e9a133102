#!/usr/bin/env node
// The published CLI runs the compiled output; inside the repository `npm run build` (or `npm ci`, via prepare) makes it.
// The version check comes before any import: the client packages crash while loading on Node < 22, with a stack trace
// that says nothing about the cause. So the compiled code is imported only once the runtime is known to be new enough.
const REQUIRED_MAJOR = 22;
const major = Number(process.versions.node.split(".")[0]);
if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(
    `dbt-activation needs Node ${REQUIRED_MAJOR} or newer; this is Node ${process.versions.node} (${process.execPath}).\n` +
      `Install Node ${REQUIRED_MAJOR}+ (for instance \`npm install --prefix .node22 node@22\` and run .node22/node_modules/.bin/node), then run it again.\n`,
  );
  process.exit(2);
}
// Node keeps the compiled code of the modules a command loads in a cache on disk (its tmpdir): the next command skips
// compiling them, most of the start-up of a short command. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();
const argv = process.argv.slice(2);
// `--version` alone is answered before the commands load (see src/cli/version.ts).
const { onlyVersion, VERSION } = await import("../dist/src/cli/version.js");
if (onlyVersion(argv)) process.stdout.write(`${VERSION}\n`);
else process.exitCode = await (await import("../dist/src/cli/main.js")).main(argv);
