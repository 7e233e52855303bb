import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { read, Scratch } from './kit.js';
import { blasConv, convInfoFor, explicitPad, toInputs } from './convHelpers.js';
import type { ConvAttrs } from './convHelpers.js';

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

export const conv2DBackpropInputPatch: KernelPatch = {
  name: 'Conv2DBackpropInput',
  stock: ['Conv2D', 'Concat', 'Reshape', 'Transpose', 'Slice'],
  make: () => conv2DBackpropInput,
};
