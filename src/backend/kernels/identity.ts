import * as tf from '../../tf.js';
import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { stockKernel } from './kit.js';

// ---------------------------------------------------------------------------------------------
// Identity and same-dtype Cast: a new reference to the same data, no copy.

export function identity(args: KernelArgs): Info {
  const { x } = args.inputs;
  if (x.dtype === 'string') return stockKernel('Identity')(args);
  (args.backend as unknown as { incRef(id: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export const identityPatch: KernelPatch = {
  name: 'Identity',
  stock: ['Identity'],
  make: () => identity,
};
