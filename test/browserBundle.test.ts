import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the library entry in a browser', () => {
  it('bundles for the browser platform with no Node built-in anywhere below it', async () => {
    // esbuild's browser platform resolves no Node built-in (`fs`, `node:path`, ...): any import
    // of one, direct or through a dependency, fails the build with "Could not resolve".
    const result = await build({
      entryPoints: ['src/index.ts'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
    }).catch((e: { errors: { text: string; location?: { file: string } }[] }) => {
      throw new Error(e.errors.map((x) => `${x.text} (${x.location?.file ?? '?'})`).join('\n'));
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((f) => f.includes('src/train/trainer.ts'))).toBe(true);
    // Node-only dependencies stay out: native renderers, PNG codecs, the file readers.
    for (const nodeOnly of ['@resvg', 'pngjs', 'src/data/mnist.ts', 'src/train/checkpoint.ts'])
      expect(inputs.filter((f) => f.includes(nodeOnly))).toEqual([]);
  });
});
