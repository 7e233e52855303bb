import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest global setup: one scratch folder for the whole run, named in AVB_TEST_TMP for the test
 * workers (forked after this runs, so they inherit it), and removed when the run ends, so the
 * tests' run folders, data files and copies never pile up in the system's temporary folder.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'avb-test-'));
  process.env.AVB_TEST_TMP = root;
  return () => rmSync(root, { recursive: true, force: true });
}
