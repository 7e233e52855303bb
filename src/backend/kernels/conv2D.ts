import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { stockKernel } from './kit.js';
import { blasConv, convInfoFor, explicitPad } from './convHelpers.js';
import type { ConvAttrs } from './convHelpers.js';

/**
 * Forward conv with tfjs's padding made explicit: XNNPACK's own SAME rule pads differently in
 * some shapes (stride 2, a filter of size 1 along a dimension whose TensorFlow padding is 0).
 */
function conv2D({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, filter } = inputs as { x: Info; filter: Info };
  const a = attrs as unknown as ConvAttrs;
  const viaBlas = blasConv(0, backend, { x, filter }, x.shape, filter.shape, a);
  if (viaBlas) return viaBlas;
  const { top, bottom, left, right } = convInfoFor(x.shape, filter.shape, a).padInfo;
  return stockKernel('Conv2D')({
    inputs,
    backend,
    attrs: { ...a, pad: explicitPad(top, bottom, left, right), dataFormat: 'NHWC' },
  });
}

export const conv2DPatch: KernelPatch = {
  name: 'Conv2D',
  stock: ['Conv2D'],
  make: () => conv2D,
};
