#!/usr/bin/env node
// The published CLI runs the compiled output; inside the repository `npm run build` (or `npm ci`, via prepare) makes it.
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
