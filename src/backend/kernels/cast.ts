import * as tf from '../../tf.js';
import { identity } from './identity.js';
import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { Scratch, stockKernel } from './kit.js';

// Same-dtype Cast: a new reference to the same data, no copy (see ./identity.ts); Cast to bool
// as x != 0 (the stock kernel wraps values into a byte: -2.2 gives 254, 256 gives false).
function cast(args: KernelArgs): Info {
  const { x } = args.inputs;
  const { dtype } = args.attrs as { dtype: tf.DataType };
  if (x.dtype === dtype) return identity(args);
  if (dtype === 'bool' && x.dtype !== 'string') {
    const s = new Scratch(args.backend);
    const zero = s.make(new Float32Array(1), []);
    const xf = x.dtype === 'float32' ? x : s.run('Cast', { x }, { dtype: 'float32' });
    return s.done(s.run('NotEqual', { a: xf, b: zero }));
  }
  return stockKernel('Cast')(args);
}

export const castPatch: KernelPatch = {
  name: 'Cast',
  stock: ['Cast', 'NotEqual'],
  make: () => cast,
};
