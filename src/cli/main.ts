#!/usr/bin/env -S node --max-semi-space-size=64
// The flag: see src/heap.ts (a shebang line cannot import it).
import { runCli } from './program.js';

// Output piped into a command that exits early (`avb ... | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// The executable: everything lives in program.ts so tests can run the CLI in-process.
process.exitCode = await runCli(process.argv.slice(2));
