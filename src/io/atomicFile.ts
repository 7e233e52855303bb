import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  rmdirSync,
  rmSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AvbUserError } from '../errors.js';
import { isOwnedFile, recordOwned } from './ownedFolder.js';

/**
 * Writes `content` to `path` through a temporary file, fsync and rename, so a crash at any moment
 * leaves either the old file or the new one, never a partial one. Failures are one-line
 * {@link AvbUserError}s naming the file and the cause. In a folder avb owns, the file is recorded
 * as avb's first (so `--force` may later replace it, and a crash's `.tmp` leftover with it).
 */
export function writeFileAtomic(path: string, content: string | Uint8Array | Uint8Array[]): void {
  const chunks =
    typeof content === 'string'
      ? [Buffer.from(content, 'utf8')]
      : Array.isArray(content)
        ? content
        : [content];
  const tmp = `${path}.tmp`;
  let fd: number | undefined;
  try {
    recordOwned(path);
    fd = openSync(tmp, 'w');
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    if (existsSync(tmp)) rmSync(tmp, { force: true });
    throw new AvbUserError(`cannot write ${path}: ${describeFsError(e)}`);
  }
}

/** {@link writeFileAtomic} of a value as indented JSON. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** A file-system error in a few words, with what to do. */
function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOSPC':
      return 'the disk is full; free space or choose another location';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `not writable (${code}); choose a writable location`;
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder; choose another location';
    case 'ENOENT':
      return 'the folder does not exist; create it or choose another location';
    default:
      return (e as Error).message.split('\n')[0];
  }
}

/**
 * Checks, before any computing, that a file can be written at `path`: it is not a folder, its
 * folder exists and accepts new files (probed by creating and removing one: permission bits do
 * not tell, root passes access() on /proc and read-only mounts), and an existing file there is
 * one avb wrote (recorded in its folder's {@link isOwnedFile marker}) unless `force`: avb never
 * replaces a user's file (their data, `--out` given the data's own name) unasked.
 */
export function checkWritableFile(path: string, option = '--out', force = false): void {
  const full = resolve(path);
  if (existsSync(full) && statSync(full).isDirectory())
    throw new AvbUserError(`${option} ${path} is a folder; give a file name`);
  if (existsSync(full) && !force && !isOwnedFile(full))
    throw new AvbUserError(
      `${option} ${path} exists and avb did not write it; choose another name, or add --force to replace it`,
    );
  checkWritableFolder(dirname(full), option);
}

/** Checks that `folder` exists, is a folder and accepts new entries (see {@link checkWritableFile}). */
export function checkWritableFolder(folder: string, option = '--out'): void {
  if (!existsSync(folder))
    throw new AvbUserError(`${option}: folder ${folder} does not exist; create it first`);
  if (!statSync(folder).isDirectory())
    throw new AvbUserError(`${option}: ${folder} is a file, not a folder; choose another path`);
  const probe = join(folder, `.avb-write-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (e) {
    // The folder exists, so ENOENT here means it takes no new entries (e.g. /proc).
    const why =
      (e as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'it does not accept new files; choose a writable location'
        : describeFsError(e);
    throw new AvbUserError(`cannot write to ${folder} (${option}): ${why}`);
  }
}
