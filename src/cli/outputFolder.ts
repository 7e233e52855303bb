import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AvbUserError } from '../errors.js';
import { checkWritableFolder } from '../io/atomicFile.js';
import {
  checkReplaceable,
  makeOwnedFolder,
  recordOwned,
  removeOwnedFolder,
} from '../io/ownedFolder.js';

/**
 * Checks, before any computing, that `out` can be written: a file is refused; an existing folder
 * only with `force`, and then only if everything in it is avb's and it holds none of `protect`
 * (the files the command reads); its nearest existing ancestor must be a writable folder. Throws
 * a one-line {@link AvbUserError} otherwise.
 */
export function checkOutputFolder(
  out: string,
  force: boolean | undefined,
  whenExists = 'add --force to replace it',
  protect: string[] = [],
): void {
  const path = resolve(out);
  if (existsSync(path)) {
    if (!statSync(path).isDirectory())
      throw new AvbUserError(`--out ${out} is a file, not a folder; choose another path`);
    if (!force) throw new AvbUserError(`output folder ${out} already exists; ${whenExists}`);
    checkReplaceable(out, protect);
  }
  let parent = dirname(path);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory())
    throw new AvbUserError(`cannot create ${out}: ${parent} is a file; choose another --out`);
  checkWritableFolder(parent);
}

/**
 * Writes `files` into the folder `out` all at once: into a sibling temporary folder first, which
 * then replaces `out` (after {@link removeOwnedFolder}: only avb's own output is ever replaced),
 * so an interrupted or failed write leaves no partial output behind.
 */
export function writeOutputFolder(
  out: string,
  files: Record<string, string | Uint8Array>,
  protect: string[] = [],
): void {
  const path = resolve(out);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    makeOwnedFolder(tmp);
    for (const [name, content] of Object.entries(files)) {
      recordOwned(join(tmp, name));
      writeFileSync(join(tmp, name), content);
    }
  } catch (e) {
    if (existsSync(tmp)) removeOwnedFolder(tmp);
    throw new AvbUserError(`cannot write ${out}: ${(e as Error).message.split('\n')[0]}`);
  }
  removeOwnedFolder(out, protect);
  mkdirSync(dirname(path), { recursive: true });
  renameSync(tmp, path);
}
