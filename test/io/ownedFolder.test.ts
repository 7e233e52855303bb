import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/io/atomicFile.js';
import {
  checkReplaceable,
  foreignEntries,
  makeOwnedFolder,
  removeOwnedFolder,
} from '../../src/io/ownedFolder.js';
import { scratchDir } from '../scratchDir.js';

const base = scratchDir('avb-owned-');

describe('owned output folders', () => {
  it('a folder avb made and filled is avb’s, nested runs included, and --force removes it all', () => {
    const out = join(base, 'a', 'b');
    makeOwnedFolder(join(out, 'runs', 'm1')); // parents made on the way are avb's too
    writeFileAtomic(join(out, 'report.md'), '# r');
    writeFileAtomic(join(out, 'runs', 'm1', 'summary.json'), '{}');
    writeFileSync(join(out, 'runs', 'm1', 'summary.json.tmp'), 'half'); // a crash's leftover
    writeFileSync(join(out, 'runs', '.avb-owned.json.4242.tmp'), '{'); // a marker's, by pid
    expect(foreignEntries(out)).toEqual([]);
    // Making a folder avb already made (what a process that lost the race to mkdir does too)
    // keeps it avb's and its record of files.
    makeOwnedFolder(join(out, 'runs', 'm1'));
    expect(foreignEntries(out)).toEqual([]);
    removeOwnedFolder(join(base, 'a'));
    expect(existsSync(join(base, 'a'))).toBe(false);
  });

  it('a file avb did not write, at any depth, is named and nothing is deleted', () => {
    const out = join(base, 'c');
    makeOwnedFolder(join(out, 'runs', 'm1'));
    writeFileAtomic(join(out, 'report.md'), '# r');
    writeFileSync(join(out, 'runs', 'm1', 'notes.txt'), 'mine');
    mkdirSync(join(out, 'mine'));
    writeFileSync(join(out, 'mine', 'x'), 'mine');
    expect(foreignEntries(out).sort()).toEqual(['mine', join('runs', 'm1', 'notes.txt')]);
    expect(() => removeOwnedFolder(out)).toThrow(/holds files avb did not write \(.*notes\.txt/);
    expect(readFileSync(join(out, 'runs', 'm1', 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(out, 'report.md'))).toBe(true);
  });

  it('a folder avb did not make is the user’s unless empty; an empty one becomes avb’s', () => {
    const theirs = join(base, 'theirs');
    mkdirSync(theirs);
    writeFileSync(join(theirs, 'd.npy'), 'data');
    expect(() => checkReplaceable(theirs)).toThrow(/was not written by avb/);
    makeOwnedFolder(theirs); // not empty: stays theirs, and writes there are not recorded
    writeFileAtomic(join(theirs, 'summary.json'), '{}');
    expect(() => checkReplaceable(theirs)).toThrow(/was not written by avb/);
    const empty = join(base, 'empty');
    mkdirSync(empty);
    expect(foreignEntries(empty)).toEqual([]);
    makeOwnedFolder(empty);
    writeFileAtomic(join(empty, 'summary.json'), '{}');
    removeOwnedFolder(empty);
    expect(existsSync(empty)).toBe(false);
  });

  it('never the working folder, a parent of it, or a folder holding a file the run reads', () => {
    const out = join(base, 'reads');
    makeOwnedFolder(out);
    writeFileAtomic(join(out, 'model.mjs'), 'export default {}');
    expect(() => removeOwnedFolder(out, [join(out, 'model.mjs')])).toThrow(
      /holds .*model\.mjs, which this run reads/,
    );
    expect(() => checkReplaceable('.')).toThrow(/is the working folder or holds it/);
    expect(() => checkReplaceable('..')).toThrow(/is the working folder or holds it/);
    expect(existsSync(join(out, 'model.mjs'))).toBe(true);
  });
});
