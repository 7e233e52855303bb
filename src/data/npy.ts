import { AvbUserError } from '../errors.js';
import { readBytes } from './readBytes.js';

/**
 * NumPy `.npy` files (format versions 1, 2 and 3), as written by `numpy.save`.
 *
 * Layout: `\x93NUMPY`, major and minor version bytes, a little-endian header length (2 bytes in
 * v1, 4 in v2/v3), an ASCII Python dict `{'descr': '<f4', 'fortran_order': False, 'shape': (N, D)}`,
 * then the raw values. C order is read directly; Fortran order is transposed to C order.
 */
export interface NpyArray {
  shape: number[];
  /** Values in C (row-major) order. */
  data:
    Float64Array | Float32Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array;
  /** NumPy dtype string, e.g. `<f4`. */
  descr: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function readNpyFile(path: string): NpyArray {
  return parseNpy(readBytes(path), path);
}

export function parseNpy(bytes: Uint8Array, label: string): NpyArray {
  const fail = (what: string): never => {
    throw new AvbUserError(`NPY file ${label}: ${what}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail('wrong magic number (an .npy file starts with \\x93NUMPY); is this really an .npy file?');
  }
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`unsupported format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail('truncated header');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + headerLen;
  if (bytes.length < start) fail(`truncated header: it says ${headerLen} bytes`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(8 + lenBytes, start),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    fail(`malformed header ${JSON.stringify(header.trim().slice(0, 80))}`);
  }
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  if (shape.some((d) => !Number.isSafeInteger(d))) fail(`malformed shape (${shapeText})`);
  const type = dtypeOf(descr!);
  if (!type) {
    fail(
      `unsupported dtype '${descr}'; save the array as float32, float64, bool, uint8, int8, ` +
        'int16, uint16, int32 or int64 (little-endian)',
    );
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const expected = start + n * type!.bytes;
  if (bytes.length < expected) {
    fail(
      `truncated: header says shape (${shape.join(', ')}) of ${descr} (${expected} bytes) but the ` +
        `file has ${bytes.length} bytes; re-save it`,
    );
  }
  if (bytes.length > expected) {
    fail(
      `has ${bytes.length - expected} bytes after the data its header describes; the file is corrupt`,
    );
  }
  // Copy into an aligned buffer (the data offset need not be a multiple of the element size).
  // (`new Uint8Array(view)` copies; Buffer#slice would share the whole pooled buffer.)
  const raw = new Uint8Array(bytes.subarray(start, expected)).buffer;
  let data: NpyArray['data'] =
    descr === '<i8'
      ? int64ToFloat64(new BigInt64Array(raw), fail)
      : (new type!.ctor(raw) as NpyArray['data']);
  if (fortran === 'True' && shape.length > 1) data = fortranToC(data, shape);
  return { shape, data, descr: descr! };
}

/**
 * numpy's default integer type. Values beyond 2^53 in magnitude would lose digits as numbers:
 * refused rather than rounded.
 */
function int64ToFloat64(v: BigInt64Array, fail: (what: string) => never): Float64Array {
  const out = new Float64Array(v.length);
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < v.length; i++) {
    if (v[i] > limit || v[i] < -limit) {
      fail(
        `int64 value ${v[i]} at position ${i} is too large to be represented exactly; rescale it`,
      );
    }
    out[i] = Number(v[i]);
  }
  return out;
}

type Ctor = new (buffer: ArrayBuffer) => NpyArray['data'] | BigInt64Array;
function dtypeOf(descr: string): { bytes: number; ctor: Ctor } | undefined {
  const table: Record<string, { bytes: number; ctor: Ctor }> = {
    '<f8': { bytes: 8, ctor: Float64Array },
    '<i8': { bytes: 8, ctor: BigInt64Array },
    '<f4': { bytes: 4, ctor: Float32Array },
    '<i4': { bytes: 4, ctor: Int32Array },
    '<i2': { bytes: 2, ctor: Int16Array },
    '<u2': { bytes: 2, ctor: Uint16Array },
    '|u1': { bytes: 1, ctor: Uint8Array },
    '|i1': { bytes: 1, ctor: Int8Array },
    '|b1': { bytes: 1, ctor: Uint8Array },
  };
  return table[descr];
}

function fortranToC(data: NpyArray['data'], shape: number[]): NpyArray['data'] {
  const n = data.length;
  const out = new (data.constructor as new (n: number) => NpyArray['data'])(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  // Walk C order; compute the Fortran offset of each multi-index.
  for (let c = 0; c < n; c++) {
    let f = 0;
    let stride = 1;
    for (let d = 0; d < rank; d++) {
      f += idx[d] * stride;
      stride *= shape[d];
    }
    out[c] = data[f];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Encodes a float32 (or, for a Uint8Array, uint8) C-order `.npy` (version 1.0): samples, codes
 * and reconstructions written by the CLI, and data sets and test fixtures. Arguments in tfjs's
 * order, `tf.tensor(data, shape)`.
 */
export function encodeNpy(data: Float32Array | Uint8Array, shape: number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const typed = data instanceof Float32Array || data instanceof Uint8Array;
  if (!typed || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(
      'encodeNpy(data, shape): data must be a Float32Array or Uint8Array and shape integers',
    );
  }
  if (n !== data.length) {
    throw new TypeError(
      `encodeNpy(data, shape): shape [${shape.join(', ')}] holds ${n} values but data has ${data.length}`,
    );
  }
  const descr = data instanceof Uint8Array ? '|u1' : '<f4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
