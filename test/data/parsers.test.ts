import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx, readIdxFile } from '../../src/data/idx.js';
import { loadDataset } from '../../src/data/loadDataset.js';
import { encodeNpy, parseNpy } from '../../src/data/npy.js';
import { AvbUserError } from '../../src/errors.js';
import { Rng } from '../../src/random/rng.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-data-');

describe('IDX', () => {
  const bytes = encodeIdx([3, 2, 2], [0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  it('round-trips plain and gzipped files', () => {
    writeFileSync(join(dir, 'a.idx'), bytes);
    writeFileSync(join(dir, 'a.idx.gz'), gzipSync(bytes));
    for (const f of ['a.idx', 'a.idx.gz']) {
      const arr = readIdxFile(join(dir, f));
      expect(arr.shape).toEqual([3, 2, 2]);
      expect(Array.from(arr.data)).toEqual([0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
  });

  it('reads float IDX', () => {
    const arr = parseIdx(encodeIdx([2, 2], [0.5, -1, 2.25, 3], 'float'), 'x');
    expect(Array.from(arr.data)).toEqual([0.5, -1, 2.25, 3]);
  });

  it.each([
    [
      'truncated data',
      bytes.subarray(0, bytes.length - 3),
      /truncated: header says shape \[3, 2, 2\]/,
    ],
    ['truncated header', bytes.subarray(0, 9), /truncated header/],
    ['wrong magic', Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 1, 5]), /wrong magic number 0x01020801/],
    [
      'unknown type',
      Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 1, 5]),
      /unknown IDX value type 0x42/,
    ],
    ['trailing bytes', Uint8Array.from([...bytes, 1, 2]), /2 bytes after the data/],
    ['corrupt gzip', Uint8Array.from([0x1f, 0x8b, 1, 2, 3]), /corrupt gzip/],
  ])('%s gives a one-line user error', (_name, data, message) => {
    let err: unknown;
    try {
      parseIdx(data, 'file.idx');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AvbUserError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain('file.idx');
    expect((err as Error).message).not.toContain('\n');
  });

  it('a missing file names the path', () => {
    expect(() => readIdxFile(join(dir, 'nope.idx'))).toThrow(/nope\.idx does not exist/);
  });

  it('random bytes never throw anything but a user error', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 500; trial++) {
      const n = rng.int(64);
      const data = Uint8Array.from({ length: n }, () => rng.int(256));
      if (trial % 3 === 0 && n >= 4) data.set([0, 0, 8, 1 + rng.int(3)]);
      try {
        parseIdx(data, 'fuzz');
        parseNpy(data, 'fuzz');
      } catch (e) {
        expect(e).toBeInstanceOf(AvbUserError);
      }
    }
  });
});

describe('parser fuzzing', () => {
  it('mutated valid IDX and NPY files never throw anything but a user error', () => {
    const rng = new Rng(17);
    const seeds = [
      encodeIdx(
        [4, 3, 2],
        Array.from({ length: 24 }, (_, i) => i),
      ),
      encodeIdx(
        [5, 2],
        Array.from({ length: 10 }, (_, i) => i / 7),
        'float',
      ),
      gzipSync(encodeIdx([2, 2], [1, 2, 3, 4])),
      encodeNpy(
        Float32Array.from({ length: 12 }, (_, i) => i),
        [3, 4],
      ),
      encodeNpy(
        Float32Array.from({ length: 7 }, (_, i) => -i),
        [7],
      ),
    ];
    let parsed = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const seed = seeds[trial % seeds.length];
      let data = Uint8Array.from(seed);
      const kind = rng.int(3);
      if (kind === 0) data = data.subarray(0, rng.int(data.length)); // truncate
      const flips = kind === 2 ? 1 + rng.int(4) : 0;
      for (let f = 0; f < flips; f++) data[rng.int(data.length)] = rng.int(256); // corrupt bytes
      if (kind === 1)
        data = Uint8Array.from([
          ...data,
          ...Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)),
        ]);
      for (const parse of [parseIdx, parseNpy]) {
        try {
          parse(data, 'fuzz');
          parsed++;
        } catch (e) {
          expect(e).toBeInstanceOf(AvbUserError);
        }
      }
    }
    // Some mutations (flips inside the data) still parse: the fuzzing reaches the decoders.
    expect(parsed).toBeGreaterThan(0);
  });
});

describe('NPY', () => {
  it('round-trips float32 and reads its shape', () => {
    const arr = parseNpy(encodeNpy(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]), 'x.npy');
    expect(arr.shape).toEqual([2, 3]);
    expect(Array.from(arr.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('transposes Fortran order to C order', () => {
    const c = encodeNpy(Float32Array.from([1, 4, 2, 5, 3, 6]), [2, 3]);
    const text = new TextDecoder('latin1')
      .decode(c)
      .replace("'fortran_order': False", "'fortran_order': True ");
    const bytes = Uint8Array.from(text, (ch) => ch.charCodeAt(0));
    expect(Array.from(parseNpy(bytes, 'f.npy').data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('truncated data and wrong magic are user errors naming the file', () => {
    const ok = encodeNpy(Float32Array.from([1, 2, 3, 4]), [2, 2]);
    expect(() => parseNpy(ok.subarray(0, ok.length - 1), 'b.npy')).toThrow(/b\.npy: truncated/);
    expect(() => parseNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'c.npy')).toThrow(
      /c\.npy: wrong magic/,
    );
  });

  it('NaN in user data is refused with its position', () => {
    const path = join(dir, 'nan.npy');
    writeFileSync(path, encodeNpy(Float32Array.from([0.1, 0.2, NaN, 0.4]), [2, 2]));
    expect(() => loadDataset(`npy:${path}`)).toThrow(/value NaN at example 1, position 0/);
  });

  it('a user array becomes a data set with a held-out test split', () => {
    const path = join(dir, 'u.npy');
    writeFileSync(
      path,
      encodeNpy(
        Float32Array.from({ length: 60 }, (_, i) => i / 100),
        [20, 3],
      ),
    );
    const ds = loadDataset(`npy:${path}`);
    expect(ds.kind).toBe('binary');
    expect(ds.train.count).toBe(18);
    expect(ds.test?.count).toBe(2);
    expect(ds.exampleShape).toEqual([3]);
  });
});

/** An .npy file of raw little-endian `body` bytes with the given dtype and shape. */
function rawNpy(descr: string, shape: number[], body: Uint8Array): Uint8Array {
  const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
  const padded = header + ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + padded.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, padded.length, true);
  out.set(new TextEncoder().encode(padded), 10);
  out.set(body, 10 + padded.length);
  return out;
}

describe('user data types', () => {
  const dir = scratchDir('avb-dtypes-');
  const mask = Uint8Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1 : 0));

  it('bool and 0/1 uint8 arrays are 0/1 data, not intensities divided by 255', () => {
    for (const descr of ['|b1', '|u1']) {
      const path = join(dir, `mask-${descr.slice(1)}.npy`);
      writeFileSync(path, rawNpy(descr, [20, 2], mask));
      const ds = loadDataset(`npy:${path}`);
      expect(ds.kind).toBe('binary');
      expect(Math.max(...ds.train.x)).toBe(1);
      expect(Array.from(ds.train.x.subarray(0, 6))).toEqual([1, 0, 0, 1, 0, 0]);
    }
  });

  it('uint8 intensities (any value above 1) are scaled to [0, 1]', () => {
    const path = join(dir, 'grey.npy');
    writeFileSync(
      path,
      rawNpy(
        '|u1',
        [20, 2],
        Uint8Array.from(mask, (v, i) => v * 255 + (i === 1 ? 51 : 0)),
      ),
    );
    const ds = loadDataset(`npy:${path}`);
    expect(Array.from(ds.train.x.subarray(0, 3))).toEqual([1, 0.2, 0].map(Math.fround));
  });

  it("int64 (numpy's default integer) is read exactly; beyond 2^53 is refused", () => {
    const path = join(dir, 'counts.npy');
    const v = BigInt64Array.from({ length: 40 }, (_, i) => BigInt(i * 1000 - 7));
    writeFileSync(path, rawNpy('<i8', [20, 2], new Uint8Array(v.buffer)));
    // Integers beyond 0/1 have no evident scale: the user says which (1: as they are).
    expect(() => loadDataset(`npy:${path}`)).toThrow(
      /integer values -7\.\.38993 are neither 0\/1 nor 8-bit intensities \(0\.\.255\); add --scale 38993 to divide them into \[-1, 1\], or --scale 1/,
    );
    const ds = loadDataset(`npy:${path}`, { scale: 1 });
    expect(ds.kind).toBe('real');
    expect(Array.from(ds.train.x.subarray(0, 3))).toEqual([-7, 993, 1993]);
    v[5] = 2n ** 60n;
    writeFileSync(path, rawNpy('<i8', [20, 2], new Uint8Array(v.buffer)));
    expect(() => loadDataset(`npy:${path}`, { scale: 1 })).toThrow(
      /int64 value 1152921504606846976 at position 5 is too large/,
    );
  });

  it('encodeNpy takes (data, shape) as tfjs does and refuses a mismatch', () => {
    expect(() => encodeNpy(new Float32Array(6), [2, 2])).toThrow(
      /shape \[2, 2\] holds 4 values but data has 6/,
    );
    expect(() => encodeNpy([2, 3] as unknown as Float32Array, [6])).toThrow(
      /must be a Float32Array or Uint8Array/,
    );
  });
});

describe('data set names', () => {
  it('an unknown name lists the valid ones', () => {
    expect(() => loadDataset('cifar')).toThrow(
      /unknown data set 'cifar'; use one of: synthetic, mnist, digits8x8, idx:PATH, npy:PATH/,
    );
  });

  it('synthetic is the four one-hot vectors', () => {
    const ds = loadDataset('synthetic');
    expect(Array.from(ds.train.x)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  });
});
