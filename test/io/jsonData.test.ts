import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { AvbUserError } from '../../src/errors.js';
import { readJsonData } from '../../src/io/jsonData.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-jsondata-');
const DATA = { N: 3, y: [1, 2.5, -3] };

describe('readJsonData', () => {
  it('reads plain, gzipped and zipped JSON to the same object', () => {
    const text = JSON.stringify(DATA);
    writeFileSync(join(dir, 'd.json'), text);
    writeFileSync(join(dir, 'd.json.gz'), gzipSync(text));
    writeFileSync(join(dir, 'd.json.zip'), zipSync({ 'd.json': strToU8(text) }));
    for (const f of ['d.json', 'd.json.gz', 'd.json.zip'])
      expect(readJsonData(join(dir, f))).toEqual(DATA);
  });

  it('names the problem in one line for a missing, corrupt or ambiguous file', () => {
    writeFileSync(join(dir, 'bad.json'), '{"N": 3,');
    writeFileSync(join(dir, 'bad.json.gz'), 'not gzip');
    writeFileSync(
      join(dir, 'two.json.zip'),
      zipSync({ 'a.json': strToU8('{}'), 'b.json': strToU8('{}') }),
    );
    const cases: [string, RegExp][] = [
      ['missing.json', /does not exist/],
      ['bad.json', /is not valid JSON .*give a JSON object/],
      ['bad.json.gz', /cannot be unpacked/],
      ['two.json.zip', /holds 2 files, not one/],
      ['', /is a folder/],
    ];
    for (const [f, pattern] of cases) {
      expect(() => readJsonData(join(dir, f))).toThrow(AvbUserError);
      expect(() => readJsonData(join(dir, f))).toThrow(pattern);
    }
  });
});
