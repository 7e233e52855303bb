import { readFileSync } from 'node:fs';
import { AvbUserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomicFile.js';
import type { Parts } from '../objectives/objective.js';
import { ArchitectureMismatch, assignPartWeights } from './trainer.js';
import type { NamedValues, Trainer, TrainerState, TrainingSnapshot } from './trainer.js';

/** Version of the checkpoint layout; a file with a newer version is refused. */
export const CHECKPOINT_FORMAT = 1;
const MAGIC = 'AVBCKPT\0';

/**
 * A checkpoint: a {@link TrainingSnapshot} (weights, both optimisers' moments, random states,
 * minibatch position, step) serialised with the run's configuration. One binary file:
 *   "AVBCKPT\0" | uint32 LE header length | JSON header | float32 little-endian tensor data.
 */
interface Header {
  format: number;
  step: number;
  config: unknown;
  trainer: Omit<TrainerState, 'adam'> & {
    adam: { primal: { t: number }; adversary: { t: number } };
  };
  /** Every stored tensor in data order: weights by path, then Adam moments. */
  tensors: { name: string; shape: number[] }[];
  /** Wall-clock seconds of training up to this step, over all resumed segments. */
  seconds?: number;
}

export interface LoadedCheckpoint {
  step: number;
  /** Seconds of training up to `step` (0 for checkpoints that did not record it). */
  seconds: number;
  config: unknown;
  snapshot: TrainingSnapshot;
  /** Loads the weights into parts built from the same configuration (for evaluation). */
  loadWeights: (parts: Parts) => void;
  /** Returns `trainer` to the checkpoint's state, weights included (for resuming). */
  apply: (trainer: Trainer) => void;
}

/**
 * Writes a snapshot as a checkpoint, atomically (temporary file, fsync, rename), so a crash at
 * any moment leaves either the old or the new checkpoint, never a partial one.
 */
export function saveCheckpoint(
  path: string,
  snapshot: TrainingSnapshot,
  config: unknown,
  seconds = 0,
): void {
  const { state, weights } = snapshot;
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const [name, t] of weights) tensors.push({ name, ...t });
  for (const group of ['primal', 'adversary'] as const) {
    const s = state.adam[group];
    s.m.forEach((m, i) => {
      tensors.push({ name: `adam/${group}/m/${i}`, shape: [m.length], data: m });
      tensors.push({ name: `adam/${group}/v/${i}`, shape: [m.length], data: s.v[i] });
    });
  }
  const header: Header = {
    format: CHECKPOINT_FORMAT,
    step: state.step,
    config,
    trainer: {
      ...state,
      adam: { primal: { t: state.adam.primal.t }, adversary: { t: state.adam.adversary.t } },
    },
    tensors: tensors.map(({ name, shape }) => ({ name, shape })),
    seconds,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((12 + json.length) % 4)) % 4;
  const lenBuf = Buffer.alloc(4);
  lenBuf.writeUInt32LE(json.length + pad);
  const chunks: Uint8Array[] = [
    Buffer.from(MAGIC, 'latin1'),
    lenBuf,
    json,
    Buffer.alloc(pad, 0x20),
  ];
  for (const t of tensors)
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileAtomic(path, chunks);
}

/** Reads a checkpoint's header and data; `apply` loads it into freshly built parts and trainer. */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    throw new AvbUserError(
      `checkpoint ${path} does not exist or cannot be read; start without --resume`,
    );
  }
  const fail = (what: string): never => {
    throw new AvbUserError(`checkpoint ${path}: ${what}`);
  };
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC)
    fail('not an avb checkpoint (wrong magic)');
  const len = buf.readUInt32LE(8);
  if (buf.length < 12 + len) fail('truncated header');
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + len)) as Header;
  } catch {
    return fail('corrupt header');
  }
  if (header.format > CHECKPOINT_FORMAT) {
    fail(
      `written by a newer avb (format ${header.format}, this avb reads up to ${CHECKPOINT_FORMAT}); upgrade avb`,
    );
  }
  const expectedFloats = header.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const dataStart = 12 + len;
  if (buf.length !== dataStart + 4 * expectedFloats) fail('truncated or corrupt tensor data');
  const floats = new Float32Array(
    buf.buffer.slice(buf.byteOffset + dataStart, buf.byteOffset + buf.length),
  );
  const byName = new Map<string, Float32Array>();
  let off = 0;
  for (const t of header.tensors) {
    const n = t.shape.reduce((x, y) => x * y, 1);
    byName.set(t.name, floats.subarray(off, off + n));
    off += n;
  }
  const weights: NamedValues = new Map();
  for (const t of header.tensors)
    if (!t.name.startsWith('adam/'))
      weights.set(t.name, { shape: t.shape, data: byName.get(t.name)! });
  const adam = (group: 'primal' | 'adversary') => {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let i = 0; byName.has(`adam/${group}/m/${i}`); i++) {
      m.push(byName.get(`adam/${group}/m/${i}`)!);
      v.push(byName.get(`adam/${group}/v/${i}`)!);
    }
    return { t: header.trainer.adam[group].t, m, v };
  };
  const snapshot: TrainingSnapshot = {
    state: { ...header.trainer, adam: { primal: adam('primal'), adversary: adam('adversary') } },
    weights,
  };
  const differentArchitecture = () =>
    fail(
      'was written for a different architecture (weight names or shapes differ); resume with the same configuration or start a new run',
    );
  return {
    step: header.step,
    seconds: header.seconds ?? 0,
    config: header.config,
    snapshot,
    loadWeights(parts) {
      if (assignPartWeights(parts, weights)) differentArchitecture();
    },
    apply(trainer) {
      try {
        trainer.restore(snapshot);
      } catch (e) {
        if (e instanceof ArchitectureMismatch) differentArchitecture();
        throw e;
      }
    },
  };
}
