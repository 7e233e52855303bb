import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AvbUserError } from '../errors.js';
import { checkWritableFolder } from '../io/atomicFile.js';

/**
 * Checks, before any computing, that `out` can be written: it must not exist unless `force`,
 * and its nearest existing ancestor must be a writable folder. Throws a one-line
 * {@link AvbUserError} otherwise.
 */
export function checkOutputFolder(
  out: string,
  force: boolean | undefined,
  whenExists = 'add --force to replace it',
): void {
  const path = resolve(out);
  if (existsSync(path)) {
    if (!force) throw new AvbUserError(`output folder ${out} already exists; ${whenExists}`);
    if (!statSync(path).isDirectory())
      throw new AvbUserError(`--out ${out} is a file, not a folder; choose another path`);
  }
  let parent = dirname(path);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory())
    throw new AvbUserError(`cannot create ${out}: ${parent} is a file; choose another --out`);
  checkWritableFolder(parent);
}

/**
 * Writes `files` into the folder `out` all at once: into a sibling temporary folder first, which
 * then replaces `out`, so an interrupted or failed write leaves no partial output behind.
 */
export function writeOutputFolder(out: string, files: Record<string, string | Uint8Array>): void {
  const path = resolve(out);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(tmp, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp, name), content);
    if (existsSync(path)) rmSync(path, { recursive: true, force: true });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new AvbUserError(`cannot write ${out}: ${(e as Error).message.split('\n')[0]}`);
  }
}
