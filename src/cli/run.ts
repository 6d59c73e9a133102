#!/usr/bin/env node
// Entry point run straight from source (Node 22 strips the types): `node src/cli/run.ts sync …`.
import { onlyVersion, VERSION } from "./version.ts";

const argv = process.argv.slice(2);
if (onlyVersion(argv)) process.stdout.write(`${VERSION}\n`);
else process.exitCode = await (await import("./main.ts")).main(argv);
