import { defineConfig } from 'vitest/config';
import SlowFirst from './test/slowFirst.js';

// Tests run in Node with one worker per core; numerical tests are CPU-bound, so more
// workers than cores only adds contention on the 2-core CI machine.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The CLI tests run the built program: build it first, so they never run a stale dist/.
    globalSetup: ['test/buildFirst.ts', 'test/scratchRoot.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The files that take minutes first, so that both workers stay busy to the end.
    sequence: { sequencer: SlowFirst },
    pool: 'forks',
    maxWorkers: 2,
    // One OpenBLAS thread per test process: two workers already use both cores.
    env: { AVB_THREADS: '1' },
  },
});
