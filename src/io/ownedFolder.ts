import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { AvbUserError } from '../errors.js';

/**
 * Ownership of output folders: `--force` may delete only what avb wrote.
 *
 * Every folder avb creates for its output carries {@link OWNER_MARKER}, a small JSON manifest of
 * the files avb wrote into it (recorded by `writeFileAtomic` before each write, so a crash's
 * leftover `NAME.tmp` is avb's too). A subfolder is avb's when it carries its own marker. Anything
 * else in such a folder (a data file copied in, a notes file, a folder without a marker) is the
 * user's: `--force` then refuses, naming it, before anything is deleted.
 */
export const OWNER_MARKER = '.avb-owned.json';

interface Marker {
  writtenBy: 'avb';
  /** Names (not paths) of the files avb wrote into this folder. */
  files: string[];
}

function readMarker(dir: string): Marker | undefined {
  const path = join(dir, OWNER_MARKER);
  if (!existsSync(path)) return undefined;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<Marker>;
    return m.writtenBy === 'avb' && Array.isArray(m.files)
      ? { writtenBy: 'avb', files: m.files }
      : undefined;
  } catch {
    return undefined; // a damaged marker proves nothing: the folder is treated as the user's
  }
}

/** A marker's temporary file a crash left (`writeMarker`'s, with or without a process id). */
function isMarkerLeftover(name: string): boolean {
  return (
    name.startsWith(`${OWNER_MARKER}.`) && /^(\d+\.)?tmp$/.test(name.slice(OWNER_MARKER.length + 1))
  );
}

function writeMarker(dir: string, m: Marker): void {
  const path = join(dir, OWNER_MARKER);
  // A temporary name of this process's own: two processes marking one folder must not rename
  // each other's file away.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(m) + '\n');
  renameSync(tmp, path);
}

/**
 * Creates `dir` (and its missing parents) as folders avb owns. An existing folder becomes avb's
 * only while it is empty: a folder of the user's stays theirs, and files avb writes there are
 * simply not recorded.
 */
export function makeOwnedFolder(dir: string): void {
  const path = resolve(dir);
  if (!existsSync(path)) {
    makeOwnedFolder(dirname(path));
    try {
      mkdirSync(path);
      writeMarker(path, { writtenBy: 'avb', files: [] });
      return;
    } catch (e) {
      // Another avb process (a reproduction's parallel fits) made it since the check above:
      // it is then a folder found, as below.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if (!readMarker(path) && readdirSync(path).length === 0)
    writeMarker(path, { writtenBy: 'avb', files: [] });
}

/** Records `file` as written by avb, when its folder is one avb owns (else does nothing). */
export function recordOwned(file: string): void {
  const dir = dirname(resolve(file));
  const m = readMarker(dir);
  const name = basename(file);
  if (!m || m.files.includes(name)) return;
  m.files.push(name);
  writeMarker(dir, m);
}

/** Whether `file` is recorded as avb's in the marker of its folder (one avb owns). */
export function isOwnedFile(file: string): boolean {
  const path = resolve(file);
  return readMarker(dirname(path))?.files.includes(basename(path)) ?? false;
}

/**
 * What in `dir` avb did not write, as paths relative to `dir` (a foreign folder is named once,
 * not file by file). Empty for an empty folder.
 */
export function foreignEntries(dir: string): string[] {
  const root = resolve(dir);
  const out: string[] = [];
  const walk = (d: string) => {
    const entries = readdirSync(d);
    const m = readMarker(d);
    if (!m) {
      if (d === root && entries.length === 0) return;
      out.push(relative(root, d) || '.');
      return;
    }
    const owned = new Set(m.files);
    for (const e of entries) {
      if (e === OWNER_MARKER || isMarkerLeftover(e)) continue;
      const full = join(d, e);
      if (statSync(full).isDirectory()) walk(full);
      else if (!owned.has(e) && !(e.endsWith('.tmp') && owned.has(e.slice(0, -4))))
        out.push(relative(root, full));
    }
  };
  walk(root);
  return out;
}

/**
 * Checks that `--force` may empty `dir`: it is not the working folder or one of its parents, it
 * holds none of `protect` (the run's data, model or configuration files), and everything in it
 * is avb's. Throws a one-line {@link AvbUserError} otherwise; does nothing if `dir` does not exist.
 */
export function checkReplaceable(dir: string, protect: string[] = [], option = '--out'): void {
  const path = resolve(dir);
  if (!existsSync(path)) return;
  const inside = (p: string) => p === path || p.startsWith(path + sep);
  if (inside(process.cwd()))
    throw new AvbUserError(
      `${option} ${dir} is the working folder or holds it; --force would delete it: choose a new folder`,
    );
  const held = protect.map((p) => resolve(p)).find(inside);
  if (held)
    throw new AvbUserError(
      `${option} ${dir} holds ${relative(process.cwd(), held) || held}, which this run reads; --force would delete it: choose another ${option}`,
    );
  if (!statSync(path).isDirectory())
    throw new AvbUserError(`${option} ${dir} is a file, not a folder; choose another path`);
  const foreign = foreignEntries(path);
  if (foreign.length) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ', …' : '');
    const what =
      foreign[0] === '.'
        ? `was not written by avb (no ${OWNER_MARKER}) and is not empty`
        : `holds files avb did not write (${shown})`;
    throw new AvbUserError(
      `${option} ${dir} ${what}; --force deletes only avb's own output: move them away or choose another ${option}`,
    );
  }
}

/**
 * Deletes what avb wrote in `dir` and then `dir` itself, after {@link checkReplaceable} (which
 * throws, deleting nothing, if anything there is not avb's). Does nothing if `dir` does not exist.
 */
export function removeOwnedFolder(dir: string, protect: string[] = [], option = '--out'): void {
  checkReplaceable(dir, protect, option);
  const path = resolve(dir);
  if (!existsSync(path)) return;
  const remove = (d: string) => {
    const m = readMarker(d);
    const owned = new Set(m?.files ?? []);
    for (const e of readdirSync(d)) {
      const full = join(d, e);
      if (statSync(full).isDirectory()) remove(full);
      else if (owned.has(e) || e.endsWith('.tmp')) rmSync(full, { force: true });
    }
    rmSync(join(d, OWNER_MARKER), { force: true });
    rmdirSync(d);
  };
  remove(path);
}
