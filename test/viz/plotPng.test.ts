import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { GROUP_COLOURS, plotPng, posteriorScatterSpec } from '../../src/viz/plotPng.js';

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** Pixels within `tol` of `colour` in every channel. */
function count(png: PNG, colour: [number, number, number], tol = 24): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4)
    if (colour.every((c, k) => Math.abs(png.data[i + k] - c) <= tol)) n++;
  return n;
}

describe('plots rendered without a browser', () => {
  it('a title alone is drawn as text (the fonts are found)', async () => {
    const png = PNG.sync.read(
      await plotPng({
        title: { text: 'AVB', fontSize: 40, color: '#000000' },
        width: 20,
        height: 20,
        data: { values: [] },
        mark: 'point',
      }),
    );
    // Without a usable font resvg silently drops text: the picture would be all white.
    expect(count(png, [0, 0, 0], 60)).toBeGreaterThan(100);
  });

  it('the q(z|x) figure has every group in its colour, the legend and the axes', async () => {
    const groups = [0, 1, 2, 3].map((g) =>
      Float32Array.from({ length: 400 }, (_, i) =>
        i % 2 === 0 ? Math.cos(g) + 0.01 * i : Math.sin(g),
      ),
    );
    const spec = posteriorScatterSpec(groups, {
      title: 'test',
      groupNames: ['a', 'b', 'c', 'd'],
      range: 4,
      circle: 2,
    });
    const png = PNG.sync.read(await plotPng(spec));
    // 320 x 320 plot plus axes, legend and title, drawn at 2x.
    expect(png.width).toBeGreaterThan(700);
    expect(png.height).toBeGreaterThan(700);
    // Each group's colour appears: its legend symbol at least (the points are drawn translucent).
    for (const c of GROUP_COLOURS.slice(0, 4)) expect(count(png, rgb(c)), c).toBeGreaterThan(20);
    // A colour no group has does not.
    expect(count(png, rgb(GROUP_COLOURS[5]), 8)).toBe(0);
  });
});
