// The demo's two views, drawn on canvases: they update several times a second, which a plotting
// library re-rendering its whole scene each time would not keep up with.

/** Okabe–Ito colours, as in avb's PNG figures. */
export const COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7'];
const POINTS = ['e₁', 'e₂', 'e₃', 'e₄'];

/** Samples of q(z|x) per data point in the latent plane [-4, 4]², with the prior's 2σ circle. */
export function drawLatent(canvas: HTMLCanvasElement, samples: Float32Array[]): void {
  const g = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  const pad = 36;
  const size = Math.min(w, h) - 2 * pad;
  const sx = (v: number) => pad + ((v + 4) / 8) * size;
  const sy = (v: number) => pad + ((4 - v) / 8) * size;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  axes(g, sx, sy, size, pad);
  g.setLineDash([5, 4]);
  g.strokeStyle = '#888';
  g.beginPath();
  g.arc(sx(0), sy(0), (2 / 8) * size, 0, 2 * Math.PI);
  g.stroke();
  g.setLineDash([]);
  samples.forEach((s, k) => {
    g.fillStyle = COLOURS[k];
    g.globalAlpha = 0.55;
    for (let i = 0; i + 1 < s.length; i += 2) g.fillRect(sx(s[i]) - 1.5, sy(s[i + 1]) - 1.5, 3, 3);
  });
  g.globalAlpha = 1;
  g.font = '13px sans-serif';
  POINTS.forEach((p, k) => {
    g.fillStyle = COLOURS[k];
    g.fillRect(w - 60, 14 + k * 18, 10, 10);
    g.fillStyle = '#222';
    g.fillText(p, w - 44, 23 + k * 18);
  });
}

function axes(
  g: CanvasRenderingContext2D,
  sx: (v: number) => number,
  sy: (v: number) => number,
  size: number,
  pad: number,
): void {
  g.strokeStyle = '#ddd';
  g.fillStyle = '#444';
  g.font = '11px sans-serif';
  for (let v = -4; v <= 4; v++) {
    g.beginPath();
    g.moveTo(sx(v), pad);
    g.lineTo(sx(v), pad + size);
    g.moveTo(pad, sy(v));
    g.lineTo(pad + size, sy(v));
    g.stroke();
    g.fillText(String(v), sx(v) - 4, pad + size + 14);
    g.fillText(String(v), pad - 18, sy(v) + 4);
  }
  g.font = '13px sans-serif';
  g.fillText('z₁', pad + size / 2, pad + size + 30);
  g.fillText('z₂', 4, pad + size / 2);
}

export interface Series {
  label: string;
  colour: string;
  points: [number, number][];
  dashed?: boolean;
}

/** Curves against the training step, with a horizontal reference line and a legend. */
export function drawCurves(
  canvas: HTMLCanvasElement,
  series: Series[],
  reference: { value: number; label: string },
  yRange: [number, number],
  yTitle: string,
): void {
  const g = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  const [left, right, top, bottom] = [56, 12, 12, 40];
  const maxStep = Math.max(100, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const sx = (v: number) => left + (v / maxStep) * (w - left - right);
  const clampY = (v: number) => Math.min(yRange[1], Math.max(yRange[0], v));
  const sy = (v: number) =>
    top + ((yRange[1] - clampY(v)) / (yRange[1] - yRange[0])) * (h - top - bottom);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  g.font = '11px sans-serif';
  g.fillStyle = '#444';
  g.strokeStyle = '#ddd';
  for (let i = 0; i <= 4; i++) {
    const v = yRange[0] + ((yRange[1] - yRange[0]) * i) / 4;
    g.beginPath();
    g.moveTo(left, sy(v));
    g.lineTo(w - right, sy(v));
    g.stroke();
    g.fillText(v.toFixed(2), 4, sy(v) + 4);
  }
  g.fillText('0', left, h - bottom + 14);
  g.fillText(`${maxStep} steps`, w - right - 60, h - bottom + 14);
  g.fillText(yTitle, left, h - 6);
  g.setLineDash([6, 4]);
  g.strokeStyle = '#d55e00';
  g.beginPath();
  g.moveTo(left, sy(reference.value));
  g.lineTo(w - right, sy(reference.value));
  g.stroke();
  g.fillStyle = '#d55e00';
  g.fillText(reference.label, w - right - 120, sy(reference.value) - 4);
  for (const s of series) {
    g.setLineDash(s.dashed ? [3, 3] : []);
    g.strokeStyle = s.colour;
    g.lineWidth = 1.5;
    g.beginPath();
    s.points.forEach(([x, y], i) => (i ? g.lineTo(sx(x), sy(y)) : g.moveTo(sx(x), sy(y))));
    g.stroke();
  }
  g.setLineDash([]);
  g.lineWidth = 1;
  series.forEach((s, k) => {
    g.fillStyle = s.colour;
    g.fillRect(left + 8 + k * 150, top + 4, 10, 10);
    g.fillStyle = '#222';
    g.fillText(s.label, left + 22 + k * 150, top + 13);
  });
}
