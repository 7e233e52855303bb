#!/usr/bin/env node
import { runCli } from './program.js';

// The executable: everything lives in program.ts so tests can run the CLI in-process.
process.exitCode = await runCli(process.argv.slice(2));
