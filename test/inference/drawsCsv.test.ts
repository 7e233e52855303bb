import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { drawsToCsv } from '../../src/inference/draws.js';
import { readDrawsCsv } from '../../src/experiments/reproduce/posteriordb.js';
import { scratchDir } from '../scratchDir.js';

describe('draws.csv', () => {
  it("quotes a matrix element's name (Sigma[1,2]) so that every CSV reader keeps its columns", () => {
    const draws = {
      names: ['mu', 'Sigma[1,1]', 'Sigma[1,2]', 'odd "name"'],
      values: [
        [0.5, 1.25, -0.1, 3],
        [0.25, 2.5, 0.2, 4],
      ],
    };
    const csv = drawsToCsv(draws);
    expect(csv.split('\n')[0]).toBe('chain,draw,mu,"Sigma[1,1]","Sigma[1,2]","odd ""name"""');
    // An independent RFC 4180 parser sees 6 columns, the names as written, the values exact.
    const rows = parse(csv) as string[][];
    expect(rows[0]).toEqual(['chain', 'draw', ...draws.names]);
    expect(rows.slice(1).map((r) => r.map(Number))).toEqual([
      [1, 1, 0.5, 1.25, -0.1, 3],
      [1, 2, 0.25, 2.5, 0.2, 4],
    ]);
    // And so does the reader that judges posteriordb fits against reference draws, whose names
    // are Stan's (posteriordb's matrices are `Sigma[1,2]`).
    const file = join(scratchDir('avb-draws-'), 'draws.csv');
    writeFileSync(file, csv);
    const read = readDrawsCsv(file);
    expect(read['Sigma[1,2]']).toEqual([-0.1, 0.2]);
    expect(read['odd "name"']).toEqual([3, 4]);
    expect(read.chain).toEqual([1, 1]);
    // A file whose rows do not match its header (as unquoted names made them) is refused with
    // the fix named, not read into shifted columns.
    writeFileSync(file, 'chain,draw,Sigma[1,2]\n1,1,0.5\n');
    expect(() => readDrawsCsv(file)).toThrow(
      /is not a draws file avb can read.*run the command again/,
    );
  });
});
