/**
 * The V8 young-generation size avb's processes run with. Differentiating a model records a tape of
 * small objects that all stay alive until the backward pass; with V8's default semi-space (grown
 * from 1 MiB on demand) every scavenge during an evaluation copies the tape built so far, and
 * garbage collection took 60% of a Stan program's gradient time. With 64 MiB semi-spaces a tape
 * of tens of thousands of nodes is built between two scavenges, most of them after it is
 * garbage: an HMM forward algorithm over 200 points went from 39 to 12 ms of CPU per gradient,
 * a 30 × 25 loop of Bernoulli terms from 7 to 6 ms (this 2-core machine, loaded). The cost is at
 * most ~200 MiB of address space per process.
 */
export const SEMI_SPACE_MB = 64;

/** The node flag (also in the CLI's shebang line and `npm start`, which cannot import it). */
export const SEMI_SPACE_FLAG = `--max-semi-space-size=${SEMI_SPACE_MB}`;

/** A worker thread's young generation: two semi-spaces and the space objects are promoted from. */
export const WORKER_YOUNG_GENERATION_MB = 3 * SEMI_SPACE_MB;
