import { PNG } from 'pngjs';

export interface ImageGridOptions {
  /** Images per row. */
  columns: number;
  /** Each pixel drawn as a `scale` x `scale` block. */
  scale: number;
  /** Grey gap between images, in output pixels. */
  gap: number;
  /** Values mapped to black and white; values outside are clipped. */
  range: [number, number];
}

/** Smallest side, in screen pixels, an image is drawn with by default: 8 x 8 digits become 48 x 48. */
export const MIN_IMAGE_PIXELS = 48;

/** Each pixel as a block: 2 x 2 up to 32 x 32 images (MNIST: 56 px), larger for tiny ones. */
function defaultScale(h: number, w: number): number {
  return Math.max(h * w <= 32 * 32 ? 2 : 1, Math.ceil(MIN_IMAGE_PIXELS / Math.min(h, w)));
}

/** Whether examples of this shape can be drawn as images: `[h, w, 1]` (grey) or `[h, w, 3]` (RGB). */
export function isImageShape(shape: number[]): boolean {
  return shape.length === 3 && (shape[2] === 1 || shape[2] === 3);
}

/**
 * Draws `count` images of `shape` (`[h, w, 1]` or `[h, w, 3]`, row-major values in `data`) as
 * one PNG grid, row by row: samples from a decoder, or inputs beside their reconstructions.
 */
export function imageGridPng(
  data: Float32Array,
  count: number,
  shape: number[],
  options: Partial<ImageGridOptions> = {},
): Buffer {
  if (!isImageShape(shape)) {
    throw new Error(`imageGridPng: shape [${shape.join(', ')}] is not [h, w, 1] or [h, w, 3]`);
  }
  const [h, w, c] = shape;
  const o: ImageGridOptions = {
    columns: Math.ceil(Math.sqrt(count)),
    scale: defaultScale(h, w),
    gap: 2,
    range: [0, 1],
    ...options,
  };
  const rows = Math.ceil(count / o.columns);
  const cellW = w * o.scale + o.gap;
  const cellH = h * o.scale + o.gap;
  const png = new PNG({ width: o.columns * cellW + o.gap, height: rows * cellH + o.gap });
  png.data.fill(128); // grey gaps: images of white or black background both stand out
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const [lo, hi] = o.range;
  // NaN marks an empty cell: drawn in the gap colour.
  const byte = (v: number) =>
    Number.isNaN(v) ? 128 : Math.round(255 * Math.min(1, Math.max(0, (v - lo) / (hi - lo))));
  for (let k = 0; k < count; k++) {
    const x0 = o.gap + (k % o.columns) * cellW;
    const y0 = o.gap + Math.floor(k / o.columns) * cellH;
    for (let y = 0; y < h * o.scale; y++) {
      for (let x = 0; x < w * o.scale; x++) {
        const src = (k * h * w + Math.floor(y / o.scale) * w + Math.floor(x / o.scale)) * c;
        const dst = 4 * ((y0 + y) * png.width + x0 + x);
        for (let ch = 0; ch < 3; ch++) png.data[dst + ch] = byte(data[src + (c === 3 ? ch : 0)]);
      }
    }
  }
  return PNG.sync.write(png);
}
