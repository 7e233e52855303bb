import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/random/rng.js';

describe('Rng', () => {
  it('the same seed gives the same stream, a different seed a different one', () => {
    const a = new Rng(42).fillNormal(new Float32Array(1000));
    const b = new Rng(42).fillNormal(new Float32Array(1000));
    const c = new Rng(43).fillNormal(new Float32Array(1000));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('state() and fromState() continue the stream exactly', () => {
    const r = new Rng(7);
    for (let i = 0; i < 100; i++) r.uint32();
    const copy = Rng.fromState(r.state());
    const x = Array.from({ length: 50 }, () => r.normal());
    const y = Array.from({ length: 50 }, () => copy.normal());
    expect(y).toEqual(x);
  });

  it('normal draws have mean 0 and variance 1; uniform draws mean 1/2', () => {
    const n = 200000;
    const z = new Rng(1).fillNormal(new Float32Array(n));
    const mean = z.reduce((a, b) => a + b, 0) / n;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance;
    // 5 standard errors.
    expect(Math.abs(mean)).toBeLessThan(0.011);
    expect(Math.abs(variance - 1)).toBeLessThan(0.016);
    const u = new Rng(2).fillUniform(new Float32Array(n));
    expect(Math.abs(u.reduce((a, b) => a + b, 0) / n - 0.5)).toBeLessThan(
      5 * Math.sqrt(1 / 12 / n),
    );
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it('permutation is a permutation', () => {
    const p = new Rng(3).permutation(1000);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('rejects a bad state', () => {
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/four unsigned/);
  });
});
