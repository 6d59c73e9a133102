#!/usr/bin/env node
// Entry point run straight from source (Node 22 strips the types): `node src/cli/run.ts sync …`.
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2));
