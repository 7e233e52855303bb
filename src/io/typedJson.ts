/**
 * JSON that keeps typed arrays and Maps (an optimiser's snapshot: weights as Float32Array, by
 * name in a Map), for checkpoints that must restore bit for bit: a Float32Array is stored as the
 * base64 of its bytes, not as decimal numbers.
 */
export function stringifyTyped(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (v instanceof Float32Array) return { $f32: bytesToBase64(v) };
    if (v instanceof Float64Array) return { $f64: bytesToBase64(v) };
    if (v instanceof Map) return { $map: [...(v as Map<unknown, unknown>).entries()] };
    return v;
  });
}

/** The value {@link stringifyTyped} wrote. */
export function parseTyped(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$f32 === 'string') return new Float32Array(base64ToBuffer(o.$f32));
      if (typeof o.$f64 === 'string') return new Float64Array(base64ToBuffer(o.$f64));
      if (Array.isArray(o.$map)) return new Map(o.$map as [unknown, unknown][]);
    }
    return v;
  });
}

function bytesToBase64(a: Float32Array | Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function base64ToBuffer(s: string): ArrayBuffer {
  const b = Buffer.from(s, 'base64');
  // A fresh, aligned buffer: Buffer's pool may start at any offset.
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
