import { PNG } from 'pngjs';

/** Colour-blind-safe palette (Okabe–Ito) for up to 8 groups, as RGB. */
export const PALETTE: [number, number, number][] = [
  [0, 114, 178],
  [230, 159, 0],
  [0, 158, 115],
  [204, 121, 167],
  [86, 180, 233],
  [213, 94, 0],
  [240, 228, 66],
  [0, 0, 0],
];

export interface ScatterOptions {
  /** Square plot range [-range, range] on both axes. */
  range: number;
  size: number;
  /** Draw a circle of this radius (e.g. the prior's 2-sigma contour); 0 for none. */
  circle: number;
}

/**
 * Renders 2-D points coloured by group to a PNG (the paper's figure of q(z|x) samples, one
 * colour per data point): axes through the origin, an optional reference circle.
 * `points[g]` is a flat `[x0, y0, x1, y1, ...]` array for group g.
 */
export function scatterPng(
  points: Float32Array[],
  o: ScatterOptions = { range: 4, size: 480, circle: 2 },
): Buffer {
  const png = new PNG({ width: o.size, height: o.size });
  png.data.fill(255);
  const toPx = (v: number) => ((v + o.range) / (2 * o.range)) * (o.size - 1);
  const put = (px: number, py: number, [r, g, b]: [number, number, number], alpha = 1) => {
    const x = Math.round(px);
    const y = Math.round(o.size - 1 - py);
    if (x < 0 || y < 0 || x >= o.size || y >= o.size) return;
    const i = 4 * (y * o.size + x);
    png.data[i] = png.data[i] * (1 - alpha) + r * alpha;
    png.data[i + 1] = png.data[i + 1] * (1 - alpha) + g * alpha;
    png.data[i + 2] = png.data[i + 2] * (1 - alpha) + b * alpha;
  };
  const grey: [number, number, number] = [170, 170, 170];
  for (let p = 0; p < o.size; p++) {
    put(p, toPx(0), grey);
    put(toPx(0), p, grey);
  }
  if (o.circle > 0) {
    for (let a = 0; a < 2000; a++) {
      const t = (2 * Math.PI * a) / 2000;
      put(toPx(o.circle * Math.cos(t)), toPx(o.circle * Math.sin(t)), grey);
    }
  }
  points.forEach((pts, g) => {
    const colour = PALETTE[g % PALETTE.length];
    for (let k = 0; k + 1 < pts.length; k += 2) {
      const cx = toPx(pts[k]);
      const cy = toPx(pts[k + 1]);
      for (let dx = -1; dx <= 1; dx++)
        for (let dy = -1; dy <= 1; dy++) put(cx + dx, cy + dy, colour, 0.6);
    }
  });
  return PNG.sync.write(png);
}
