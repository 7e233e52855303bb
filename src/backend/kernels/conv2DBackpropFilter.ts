import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { Scratch } from './kit.js';
import { blasConv, convInfoFor, explicitPad } from './convHelpers.js';
import type { ConvAttrs } from './convHelpers.js';

/**
 * dW of a conv as one dilated convolution:
 *   dW[p, q, c, o] = sum_{b, i, j} xpad[b, i*sh + p, j*sw + q, c] * dy[b, i, j, o]
 * Treat xpad^T = [c, H, W, b] as a batch of `ci` images with `n` channels and dy^T = [oh, ow, b, o]
 * as a filter dilated by the stride: the stride-1 output at (p, q) is exactly dW[p, q, c, o].
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, dy } = inputs as { x: Info; dy: Info };
  const a = attrs as unknown as ConvAttrs & { filterShape: number[] };
  const viaBlas = blasConv(2, backend, { x, dy }, x.shape, a.filterShape, a);
  if (viaBlas) return viaBlas;
  const info = convInfoFor(x.shape, a.filterShape, a);
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { inChannels: ci, outChannels: co, inHeight, inWidth } = info;
  const { top, bottom, left, right } = info.padInfo;
  const [oh, ow] = [dy.shape[1], dy.shape[2]];
  const s = new Scratch(backend);
  const xt = s.run('Transpose', { x }, { perm: [3, 1, 2, 0] });
  const dyt = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  // The dilated filter spans (oh-1)*sh+1 rows; keep the padded input large enough for fh outputs
  // (with 'same' padding the bottom/right padding may be shorter than that).
  const needH = (oh - 1) * sh + fh;
  const needW = (ow - 1) * sw + fw;
  const padBottom = Math.max(bottom, needH - inHeight - top);
  const padRight = Math.max(right, needW - inWidth - left);
  const conv = s.run(
    'Conv2D',
    { x: xt, filter: dyt },
    {
      strides: 1,
      pad: explicitPad(top, padBottom, left, padRight),
      dataFormat: 'NHWC',
      dilations: [sh, sw],
    },
  );
  const cut =
    conv.shape[1] === fh && conv.shape[2] === fw
      ? conv
      : s.run('Slice', { x: conv }, { begin: [0, 0, 0, 0], size: [ci, fh, fw, co] });
  const dw = s.run('Transpose', { x: cut }, { perm: [1, 2, 0, 3] });
  return s.done(dw);
}

export const conv2DBackpropFilterPatch: KernelPatch = {
  name: 'Conv2DBackpropFilter',
  stock: ['Conv2D', 'Transpose', 'Slice', 'Reshape'],
  make: () => conv2DBackpropFilter,
};
