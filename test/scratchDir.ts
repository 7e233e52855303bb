import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh folder for one test's files, inside the run's scratch folder (test/scratchRoot.ts),
 * which is removed when the run ends; the system's temporary folder when run without it. Its own
 * module, without tfjs: importing test/helpers.ts registers tfjs's backends, and a test file
 * that never initialises one then finds wasm uninitialised.
 */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(process.env.AVB_TEST_TMP ?? tmpdir(), prefix));
}
