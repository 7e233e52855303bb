// Lint rules: typescript-eslint's recommended set, type-aware for the source tree.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'src/*.generated.cjs',
      'dist/**',
      'dist-bench/**',
      'node_modules/**',
      'runs/**',
      'coverage/**',
      'tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // Build scripts are plain Node ESM.
  { files: ['scripts/**/*.mjs'], languageOptions: { globals: globals.node } },
);
