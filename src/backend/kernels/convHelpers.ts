import * as tf from '../../tf.js';
import { nativeBlas } from '../nativeBlas.js';
import type { Info } from './kit.js';
import { BLAS_MIN_WORK, heapOf } from './kit.js';

// ---------------------------------------------------------------------------------------------
// Conv2D gradients. Notation (NHWC, filter [fh, fw, ci, co]):
//   y[b, i, j, o] = sum_{p, q, c} x[b, i*sh + p - padTop, j*sw + q - padLeft, c] * W[p, q, c, o]

export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

export function convInfoFor(
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat === 'NCHW') {
    throw new Error('avb wasm conv kernels support only NHWC (channelsLast) data');
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

export function explicitPad(top: number, bottom: number, left: number, right: number) {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ] as tf.backend_util.ExplicitPadding;
}

/**
 * A convolution or one of its gradients through the native BLAS addon (im2col blocks times the
 * filter, on the wasm heap in place): `mode` 0 returns y for `x` and `filter`, 1 the input
 * gradient and 2 the filter gradient for `dy`. Undefined when the addon is not loaded or the
 * convolution is tiny.
 */
export function blasConv(
  mode: 0 | 1 | 2,
  backend: tf.KernelBackend,
  t: { x?: Info; filter?: Info; dy?: Info },
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
): Info | undefined {
  const blas = nativeBlas();
  const given = [t.x, t.filter, t.dy].filter((i): i is Info => i !== undefined);
  if (!blas || given.some((i) => i.dtype !== 'float32')) return undefined;
  const info = convInfoFor(xShape, filterShape, attrs);
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: o } = info;
  const { filterHeight: fh, filterWidth: fw, inChannels: c } = info;
  if (n * oh * ow * fh * fw * c * o < BLAS_MIN_WORK) return undefined;
  const w = heapOf(backend);
  const out = w.makeOutput(
    mode === 0 ? [n, oh, ow, o] : mode === 1 ? xShape : filterShape,
    'float32',
  );
  // Views taken after the output's allocation (which may grow the heap and detach older views).
  const view = (i: Info | undefined) => w.typedArrayFromHeap(i ?? out);
  blas.conv2d(
    mode,
    view(mode === 1 ? undefined : t.x),
    xShape,
    view(mode === 2 ? undefined : t.filter),
    [fh, fw, o],
    [
      info.strideHeight,
      info.strideWidth,
      info.dilationHeight,
      info.dilationWidth,
      info.padInfo.top,
      info.padInfo.left,
    ],
    [oh, ow],
    view(mode === 0 ? undefined : t.dy),
  );
  return out;
}

export function toInputs(list: Info[]): Record<string, Info> {
  return list as unknown as Record<string, Info>;
}
