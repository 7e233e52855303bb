import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

/**
 * The test files that take minutes, longest first (seconds of one worker in a full run on the
 * 2-core machine, 2 December: reproduce ~370, cli ~300, then 50–90 each). Vitest's own order
 * on a clean clone (CI has no timing cache) is by file size, which started the longest file,
 * a short one, near the end and left one worker idle for minutes while it ran; starting the
 * long files first lets the two workers finish together.
 */
const SLOW = [
  'test/cli/reproduce.test.ts',
  'test/cli/cli.test.ts',
  'test/eval/estimators.test.ts',
  'test/train/memory.test.ts',
  'test/web/demo.test.ts',
  'test/cli/trainedModelChecks.test.ts',
  'test/objectives/linearGaussianPosterior.test.ts',
  'test/cli/useRun.test.ts',
  'test/cli/inferRun.test.ts',
  'test/inference/examples.test.ts',
];

function rank(spec: TestSpecification): number {
  const i = SLOW.findIndex((f) => spec.moduleId.replaceAll('\\', '/').endsWith(f));
  return i < 0 ? SLOW.length : i;
}

export default class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // Array.prototype.sort is stable: the other files keep Vitest's order after the slow ones.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
