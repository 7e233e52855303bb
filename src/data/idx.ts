import { gunzipSync } from 'node:zlib';
import { AvbUserError } from '../errors.js';
import { readBytes } from './readBytes.js';

/**
 * IDX files (the MNIST format, also Fashion-MNIST, EMNIST, KMNIST …), plain or gzipped.
 *
 * Layout: two zero bytes, a type byte, the number of dimensions, then each dimension as a
 * big-endian uint32, then the values big-endian in row-major order.
 */
export interface IdxArray {
  /** e.g. `[60000, 28, 28]`. */
  shape: number[];
  /** Values widened to float64-exact JS numbers in a typed array of the file's type. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
  /** IDX type name: ubyte, byte, short, int, float, double. */
  type: string;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'ubyte', bytes: 1 },
  0x09: { name: 'byte', bytes: 1 },
  0x0b: { name: 'short', bytes: 2 },
  0x0c: { name: 'int', bytes: 4 },
  0x0d: { name: 'float', bytes: 4 },
  0x0e: { name: 'double', bytes: 8 },
};

/** Reads and validates an IDX file; every problem is an {@link AvbUserError} naming the file. */
export function readIdxFile(path: string): IdxArray {
  return parseIdx(readBytes(path), path);
}

/** Parses IDX bytes (gzip detected by its magic). `label` names the source in errors. */
export function parseIdx(raw: Uint8Array, label: string): IdxArray {
  const fail = (what: string): never => {
    throw new AvbUserError(`IDX file ${label}: ${what}`);
  };
  let bytes = raw;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      fail(`corrupt gzip data (${(e as Error).message}); re-download the file`);
    }
  }
  if (bytes.length < 4) fail(`too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(
      `wrong magic number 0x${hex(bytes, 0, 4)} (an IDX file starts with 00 00 <type> <dims>); ` +
        'is this really an IDX file?',
    );
  }
  const type = TYPES[bytes[2]];
  if (!type) fail(`unknown IDX value type 0x${hex(bytes, 2, 1)} in the magic number`);
  const rank = bytes[3];
  if (rank === 0) fail('zero dimensions in the header');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes)
    fail(`truncated header: ${rank} dimensions need ${headerBytes} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length < expected) {
    fail(
      `truncated: header says shape [${shape.join(', ')}] of ${type.name} (${expected} bytes) ` +
        `but the file has ${bytes.length} bytes; re-download or regenerate it`,
    );
  }
  if (bytes.length > expected) {
    fail(
      `has ${bytes.length - expected} bytes after the data its header describes ` +
        `(shape [${shape.join(', ')}]); the file is corrupt or not an IDX file`,
    );
  }
  const data = decode(view, headerBytes, count, type.name);
  return { shape, data, type: type.name };
}

function decode(view: DataView, offset: number, n: number, type: string): IdxArray['data'] {
  switch (type) {
    case 'ubyte':
      return new Uint8Array(view.buffer, view.byteOffset + offset, n).slice();
    case 'byte':
      return new Int8Array(view.buffer, view.byteOffset + offset, n).slice();
    case 'short': {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    default: {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

function hex(bytes: Uint8Array, from: number, n: number): string {
  return Array.from(bytes.subarray(from, from + n), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

/** Writes an IDX file's bytes (used by tests and by users exporting arrays). */
export function encodeIdx(
  shape: number[],
  data: ArrayLike<number>,
  type: 'ubyte' | 'float' = 'ubyte',
): Uint8Array {
  const code = type === 'ubyte' ? 0x08 : 0x0d;
  const size = type === 'ubyte' ? 1 : 4;
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + data.length * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < data.length; i++) {
    if (type === 'ubyte') out[header + i] = data[i];
    else view.setFloat32(header + 4 * i, data[i], false);
  }
  return out;
}
