import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// The demo page: `npm run demo` serves it, `npm run build:web` writes dist-web/ (static files).
export default defineConfig({
  root: here('.'),
  // Relative asset paths: the built folder can be hosted under any path.
  base: './',
  resolve: {
    alias: [
      {
        // src/tf.ts loads tfjs-core's gradients from a CommonJS bundle made for Node; a browser
        // bundle takes tfjs-core's own ES modules instead.
        find: /^\.\/tfjsGradients\.generated\.cjs$/,
        replacement: here('./tfjsRegistrations.ts'),
      },
    ],
  },
  worker: { format: 'es' },
  build: { outDir: here('../dist-web'), emptyOutDir: true, target: 'es2022' },
});
