#!/usr/bin/env node
import { runCli } from './program.js';

// Output piped into a command that exits early (`avb ... | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// The executable: everything lives in program.ts so tests can run the CLI in-process.
process.exitCode = await runCli(process.argv.slice(2));
