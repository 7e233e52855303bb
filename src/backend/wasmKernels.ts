import * as tf from '../tf.js';
import {
  ADAM_KERNEL,
  BERNOULLI_LL_GRAD_KERNEL,
  BERNOULLI_LL_KERNEL,
  simdAdamKernel,
  simdBernoulliKernels,
  simdSoftplusKernel,
} from './simd/simdKernels.js';
import { nativeBlas } from './nativeBlas.js';

/**
 * Kernels avb adds to, or replaces in, TensorFlow.js's wasm backend.
 *
 * Stock tfjs-backend-wasm 4.22 cannot train a conv net and trains an MLP slowly
 * (../shared/BACKEND.md has the measurements):
 * - `BatchMatMul` with `transposeA`/`transposeB` (emitted by every matMul gradient) is ~5x slower
 *   than the plain case. We transpose the operand explicitly and call the plain kernel.
 * - `Conv2DBackpropInput` is a naive loop (~10x the forward conv). We compute it as s*s stride-1
 *   convolutions of dy with sub-filters (one per output phase), interleaved afterwards, so all
 *   the arithmetic runs in the XNNPACK convolution.
 * - `Conv2DBackpropFilter` is missing (any conv filter gradient throws). We compute it as a
 *   dilated convolution of the transposed input with the transposed dy.
 *
 * - `Conv2D` with 'same' padding gives wrong results in some shapes (stride 2 with a filter of
 *   height or width 1 along a dimension whose TensorFlow padding is zero: XNNPACK's own SAME
 *   rule pads differently). We pass tfjs's explicit padding to the stock kernel instead.
 * - `Identity` (and a `Cast` to the same dtype) copies the data; tfjs clones every tensor an op
 *   saves for its gradient, so under a gradient tape that is one copy per saved tensor. Tensors
 *   are immutable, so we share the data and count the reference, as the cpu backend does.
 *   `Cast` to bool wraps values into a byte (-2.2 gives 254, 256 gives false); we compute x != 0.
 * - `Softplus` runs scalar libm code (~10x XNNPACK's sigmoid). Where WebAssembly SIMD is
 *   available we run our own 4-lane version (./simd/) on the backend's heap.
 *
 * The replacements are registered in tfjs's kernel registry (the extension point tfjs itself
 * uses), composed from the stock wasm kernels, and tested against the cpu backend.
 */

type Info = tf.TensorInfo;
type KernelArgs = {
  inputs: Record<string, Info>;
  backend: tf.KernelBackend;
  attrs?: Record<string, unknown>;
};
type Kernel = (args: KernelArgs) => Info;

const BACKEND = 'wasm';
const PATCHED = Symbol.for('avb.wasmKernelsPatched');

/** Stock wasm kernels we compose from, captured before any replacement is registered. */
const stock: Record<string, Kernel> = {};

function stockKernel(name: string): Kernel {
  const k = stock[name];
  if (!k) throw new Error(`avb: stock wasm kernel ${name} was not captured`);
  return k;
}

/**
 * Registers avb's wasm kernels and returns their names. Call after the wasm backend is
 * initialised and selected (the stock kernels' setup must have run); calling it again registers
 * nothing and returns the same names.
 */
export function registerWasmKernels(): string[] {
  const g = globalThis as unknown as Record<symbol, string[] | undefined>;
  const done = g[PATCHED];
  if (done) return [...done];
  for (const name of [
    'BatchMatMul',
    'Transpose',
    'Conv2D',
    'Reshape',
    'Concat',
    'Slice',
    'Softplus',
    'Identity',
    'Cast',
    'NotEqual',
    'Sum',
  ]) {
    const cfg = tf.getKernel(name, BACKEND);
    if (!cfg) throw new Error(`avb: the wasm backend has no ${name} kernel`);
    stock[name] = cfg.kernelFunc as unknown as Kernel;
  }
  const patched = [
    'BatchMatMul',
    'Conv2D',
    'Conv2DBackpropInput',
    'Conv2DBackpropFilter',
    'Identity',
    'Cast',
  ];
  replace('Identity', identity);
  replace('Cast', cast);
  replace('BatchMatMul', batchMatMul);
  replace('Sum', sum);
  patched.push('Sum');
  replace('Conv2D', conv2D);
  replace('Conv2DBackpropInput', conv2DBackpropInput);
  replace('Conv2DBackpropFilter', conv2DBackpropFilter);
  const backend = tf.findBackend(BACKEND);
  const softplus = simdSoftplusKernel(backend, stockKernel('Softplus'));
  if (softplus) {
    replace('Softplus', softplus as unknown as Kernel);
    patched.push('Softplus');
  }
  const bernoulli = simdBernoulliKernels(backend);
  if (bernoulli) {
    replace(BERNOULLI_LL_KERNEL, bernoulli.forward);
    replace(BERNOULLI_LL_GRAD_KERNEL, bernoulli.gradient);
    patched.push(BERNOULLI_LL_KERNEL, BERNOULLI_LL_GRAD_KERNEL);
  }
  const adam = simdAdamKernel(backend);
  if (adam) {
    replace(ADAM_KERNEL, adam as unknown as Kernel);
    patched.push(ADAM_KERNEL);
  }
  g[PATCHED] = patched;
  return [...patched];
}

function replace(name: string, kernelFunc: Kernel): void {
  if (tf.getKernel(name, BACKEND)) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers that run stock kernels on TensorInfos and track temporaries for disposal.

class Scratch {
  private temps: Info[] = [];
  constructor(readonly backend: tf.KernelBackend) {}

  run(name: string, inputs: Record<string, Info>, attrs: Record<string, unknown> = {}): Info {
    const out = stockKernel(name)({ inputs, backend: this.backend, attrs });
    this.temps.push(out);
    return out;
  }

  make(values: Float32Array, shape: number[]): Info {
    const dataId = this.backend.write(values, shape, 'float32');
    const info: Info = { dataId, shape, dtype: 'float32' };
    this.temps.push(info);
    return info;
  }

  /** Disposes every temporary except `keep` (the kernel's output). */
  done(keep: Info): Info {
    for (const t of this.temps) if (t !== keep) this.backend.disposeData(t.dataId);
    this.temps = [];
    return keep;
  }
}

function read(backend: tf.KernelBackend, info: Info): Float32Array {
  return backend.readSync(info.dataId) as Float32Array;
}

// ---------------------------------------------------------------------------------------------
// Identity and same-dtype Cast: a new reference to the same data, no copy.

function identity(args: KernelArgs): Info {
  const { x } = args.inputs;
  if (x.dtype === 'string') return stockKernel('Identity')(args);
  (args.backend as unknown as { incRef(id: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

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

// ---------------------------------------------------------------------------------------------
// BatchMatMul: explicit transposes, then the plain (fast) kernel.

function batchMatMul({ inputs, backend, attrs }: KernelArgs): Info {
  const { a, b } = inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const viaBlas = blasMatMul(backend, a, b, transposeA, transposeB);
  if (viaBlas) return viaBlas;
  if (!transposeA && !transposeB) {
    return stockKernel('BatchMatMul')({ inputs, backend, attrs });
  }
  const s = new Scratch(backend);
  if (!transposeA && transposeB && swapPays(a.shape, b.shape)) {
    // a b^T = (b a^T)^T: b goes in as the left operand, so XNNPACK packs the small a^T instead
    // of a transposed copy of the (weight) matrix b.
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.shape.length - 2];
    const aT = s.run(
      'Transpose',
      { x: s.run('Reshape', { x: a }, { shape: [m, k] }) },
      { perm: [1, 0] },
    );
    const b2 = s.run('Reshape', { x: b }, { shape: [n, k] });
    const outT = s.run('BatchMatMul', { a: b2, b: aT }, { transposeA: false, transposeB: false });
    const out = s.run('Transpose', { x: outT }, { perm: [1, 0] });
    return s.done(s.run('Reshape', { x: out }, { shape: [...a.shape.slice(0, -2), m, n] }));
  }
  const a2 = transposeA ? s.run('Transpose', { x: a }, { perm: swapLast2(a.shape.length) }) : a;
  const b2 = transposeB ? s.run('Transpose', { x: b }, { perm: swapLast2(b.shape.length) }) : b;
  const out = s.run('BatchMatMul', { a: a2, b: b2 }, { transposeA: false, transposeB: false });
  return s.done(out);
}

// ---------------------------------------------------------------------------------------------
// Sum over leading axes (bias gradients, means over a batch): the stock kernel transposes the
// reduced axes to the end first, a full copy; the native addon sums rows in place.

function sum({ inputs, backend, attrs }: KernelArgs): Info {
  const { x } = inputs as { x: Info };
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const blas = nativeBlas();
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.every((a, i) => a === i);
  if (!blas || x.dtype !== 'float32' || !leading || axes.length === 0) {
    return stockKernel('Sum')({ inputs, backend, attrs });
  }
  const rows = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
  const kept = x.shape.slice(axes.length);
  const d = kept.reduce((p, n) => p * n, 1);
  const w = heapOf(backend);
  const out = w.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  blas.sumRows(w.typedArrayFromHeap(x), rows, d, w.typedArrayFromHeap(out));
  return out;
}

/** The wasm backend's allocation of outputs and views of its heap, where the addon works in place. */
function heapOf(backend: tf.KernelBackend) {
  return backend as unknown as {
    makeOutput(shape: number[], dtype: tf.DataType): Info;
    typedArrayFromHeap(info: Info): Float32Array;
  };
}

/** Products smaller than this many multiply-adds stay on XNNPACK (the call costs more). */
const BLAS_MIN_WORK = 16 * 16 * 16;

/**
 * The product through the native BLAS addon, reading and writing the wasm heap in place; the
 * transposes are BLAS's own (no copies). Undefined when the addon is not loaded, the dtype is not
 * float32, the batch dimensions do not match (or broadcast from 1), or the product is tiny.
 */
function blasMatMul(
  backend: tf.KernelBackend,
  a: Info,
  b: Info,
  transposeA: boolean,
  transposeB: boolean,
): Info | undefined {
  const blas = nativeBlas();
  if (!blas || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [m, k] = transposeA
    ? [a.shape[ra - 1], a.shape[ra - 2]]
    : [a.shape[ra - 2], a.shape[ra - 1]];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batch = Math.max(batchA, batchB);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  if (ra !== rb || m * n * k < BLAS_MIN_WORK) return undefined;
  const w = heapOf(backend);
  const outShape = [...(batchA >= batchB ? a.shape : b.shape).slice(0, -2), m, n];
  const out = w.makeOutput(outShape, 'float32');
  // Views taken after the output's allocation (which may grow the heap and detach older views).
  blas.sgemm(
    transposeA,
    transposeB,
    batch,
    m,
    n,
    k,
    w.typedArrayFromHeap(a),
    batchA === 1 ? 0 : m * k,
    w.typedArrayFromHeap(b),
    batchB === 1 ? 0 : k * n,
    w.typedArrayFromHeap(out),
  );
  return out;
}

/**
 * Whether a [m, k] b^T for b [n, k] (no batch) is cheaper swapped. The stock kernel hands its
 * right operand to XNNPACK's fully connected operator, which packs (copies, transposing) it on
 * every new tensor: the direct way transposes b and packs it (2 n k values moved), the swapped
 * way transposes a, packs it and transposes the output (m (2 k + n)). For a gradient through a
 * 1024 x 1024 layer at batch 64 that is 2.1M against 0.2M values; for large batches (AIS: 4000
 * rows) the direct way wins.
 */
function swapPays(aShape: number[], bShape: number[]): boolean {
  const batch = (shape: number[]) => shape.slice(0, -2).reduce((p, d) => p * d, 1);
  if (batch(aShape) !== 1 || batch(bShape) !== 1) return false;
  const [m, k] = aShape.slice(-2);
  const n = bShape[bShape.length - 2];
  return m * (2 * k + n) < 2 * n * k;
}

function swapLast2(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

// ---------------------------------------------------------------------------------------------
// Conv2D gradients. Notation (NHWC, filter [fh, fw, ci, co]):
//   y[b, i, j, o] = sum_{p, q, c} x[b, i*sh + p - padTop, j*sw + q - padLeft, c] * W[p, q, c, o]

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

function convInfoFor(
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

function explicitPad(top: number, bottom: number, left: number, right: number) {
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
function blasConv(
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

/** Forward conv with tfjs's padding made explicit (see the module comment for why). */
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

/**
 * dx of a conv by phase decomposition. Output row u gets contributions from filter rows p with
 * p = (u + padTop) mod s (mod s), so for phase r = (u + padTop) mod s and k = floor((u + padTop)/s):
 *   dx[u] = sum_m dy[k - m] * W[r + s*m]
 * which is a stride-1 correlation of dy (left-padded by M_r - 1) with the reversed sub-filter
 * W[r::s] transposed to [.., co, ci]. Each phase gives rows k = 0..K-1; interleaving the phases
 * gives rows c = s*k + r = u + padTop, from which rows padTop..padTop+inH-1 are cut.
 */
function conv2DBackpropInput({ inputs, backend, attrs }: KernelArgs): Info {
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const a = attrs as unknown as ConvAttrs & { inputShape: number[] };
  const viaBlas = blasConv(1, backend, { dy, filter }, a.inputShape, filter.shape, a);
  if (viaBlas) return viaBlas;
  const info = convInfoFor(a.inputShape, filter.shape, a);
  const { batchSize: n, inHeight, inWidth, inChannels: ci, outChannels: co } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
  const [oh, ow] = [dy.shape[1], dy.shape[2]];
  const kh = Math.max(Math.ceil((padTop + inHeight) / sh), oh);
  const kw = Math.max(Math.ceil((padLeft + inWidth) / sw), ow);
  const w = read(backend, filter);
  const s = new Scratch(backend);

  // phases[rh][rw]: [n, kh, kw, ci]
  const rows: Info[] = [];
  for (let rh = 0; rh < sh; rh++) {
    const cols: Info[] = [];
    for (let rw = 0; rw < sw; rw++) {
      const mh = Math.max(0, Math.ceil((fh - rh) / sh));
      const mw = Math.max(0, Math.ceil((fw - rw) / sw));
      let phase: Info;
      if (mh === 0 || mw === 0) {
        phase = s.make(new Float32Array(n * kh * kw * ci), [n, kh, kw, ci]);
      } else {
        const sub = new Float32Array(mh * mw * co * ci);
        // sub[a, b, o, c] = W[rh + sh*(mh-1-a), rw + sw*(mw-1-b), c, o]
        for (let ia = 0; ia < mh; ia++) {
          const p = rh + sh * (mh - 1 - ia);
          for (let ib = 0; ib < mw; ib++) {
            const q = rw + sw * (mw - 1 - ib);
            const dst = (ia * mw + ib) * co * ci;
            const src = (p * fw + q) * ci * co;
            for (let c = 0; c < ci; c++) {
              for (let o = 0; o < co; o++) sub[dst + o * ci + c] = w[src + c * co + o];
            }
          }
        }
        const subInfo = s.make(sub, [mh, mw, co, ci]);
        phase = s.run(
          'Conv2D',
          { x: dy, filter: subInfo },
          {
            strides: 1,
            pad: explicitPad(mh - 1, kh - oh, mw - 1, kw - ow),
            dataFormat: 'NHWC',
            dilations: 1,
          },
        );
      }
      cols.push(s.run('Reshape', { x: phase }, { shape: [n, kh, 1, kw, 1, ci] }));
    }
    rows.push(sw === 1 ? cols[0] : s.run('Concat', toInputs(cols), { axis: 4 }));
  }
  const stacked = sh === 1 ? rows[0] : s.run('Concat', toInputs(rows), { axis: 2 });
  const full = s.run('Reshape', { x: stacked }, { shape: [n, kh * sh, kw * sw, ci] });
  const dx = s.run(
    'Slice',
    { x: full },
    { begin: [0, padTop, padLeft, 0], size: [n, inHeight, inWidth, ci] },
  );
  return s.done(dx);
}

/** The Concat kernel takes its inputs as an array rather than a named record. */
function toInputs(list: Info[]): Record<string, Info> {
  return list as unknown as Record<string, Info>;
}

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
