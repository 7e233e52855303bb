import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataInfo } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';

/** Files of a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  /** Shape, kind and source of the training data: a trained model needs no data file. */
  data: 'data.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.avbckpt',
  summary: 'summary.json',
} as const;

export type RunPaths = Record<keyof typeof RUN_FILES, string>;

export function runPaths(dir: string): RunPaths {
  return {
    config: join(dir, RUN_FILES.config),
    data: join(dir, RUN_FILES.data),
    metrics: join(dir, RUN_FILES.metrics),
    checkpoint: join(dir, RUN_FILES.checkpoint),
    summary: join(dir, RUN_FILES.summary),
  };
}

/** Throws a one-line error unless `dir` holds a checkpoint. */
export function requireRunFolder(dir: string): RunPaths {
  const paths = runPaths(dir);
  if (!existsSync(paths.checkpoint)) {
    throw new AvbUserError(
      `${dir} is not a run folder (no ${RUN_FILES.checkpoint}); train first with avb train --out ${dir}`,
    );
  }
  return paths;
}

/** The run's `data.json`, or undefined for runs written before avb kept it. */
export function readRunData(dir: string): DataInfo | undefined {
  const path = runPaths(dir).data;
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DataInfo;
  } catch {
    throw new AvbUserError(`${path} is not valid JSON; the run folder is damaged`);
  }
}

/** The run's `summary.json`, or undefined before the first segment ends. */
export function readSummary(dir: string): Record<string, unknown> | undefined {
  const path = runPaths(dir).summary;
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Drops metrics lines after `step` (a resumed run rewrites them exactly). */
export function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      // A run killed mid-write can leave a partial last line: it is dropped with the rest.
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.map((l) => l + '\n').join(''));
}

/** The primal loss of steps 1..`steps` from `metrics.jsonl` (NaN where a line lacks it). */
export function lossHistory(file: string, steps: number): number[] {
  const out = new Array<number>(steps).fill(NaN);
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const m = JSON.parse(line) as { step?: number; primalLoss?: number };
    if (m.step && m.step <= steps && m.primalLoss !== undefined) out[m.step - 1] = m.primalLoss;
  }
  return out;
}
