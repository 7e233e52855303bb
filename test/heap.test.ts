import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SEMI_SPACE_FLAG } from '../src/heap.js';

describe('the young-generation flag', () => {
  // The shebang line and npm's start script cannot import the flag: they must spell it the same.
  it('is given by the CLI shebang and npm start, as src/heap.ts says', () => {
    const shebang = readFileSync('src/cli/main.ts', 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${SEMI_SPACE_FLAG}`);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
    expect(pkg.scripts.start).toContain(`node ${SEMI_SPACE_FLAG} dist/cli/main.js`);
  });
});
