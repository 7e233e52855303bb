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
      'dist-web/**',
      'test-output/**',
      'node_modules/**',
      'runs/**',
      'coverage/**',
      'tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Type-aware rules for TypeScript (floating promises, unsafe any, needless assertions...).
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // tfjs ops return Tensor<Rank>; `tf.sub(a, b) as tf.Scalar` is tfjs's idiom for naming the
      // rank, which this rule would have written as a type argument instead.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // Build scripts are plain Node ESM; the dependency-cruiser config is CommonJS.
  { files: ['scripts/**/*.mjs', 'bench/**/*.mjs'], languageOptions: { globals: globals.node } },
  { files: ['**/*.cjs'], languageOptions: { globals: globals.node, sourceType: 'commonjs' } },
  // Functions fit on a screen. CLI command files are exempt: their option declarations are long
  // lists, not logic.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/*Command.ts', 'src/cli/*Commands.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
);
