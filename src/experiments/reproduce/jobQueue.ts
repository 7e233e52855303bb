import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { SEMI_SPACE_FLAG } from '../../heap.js';
import { createWriteStream } from 'node:fs';
import { makeOwnedFolder, recordOwned } from '../../io/ownedFolder.js';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvbUserError } from '../../errors.js';

/** One `avb` command of a reproduction, run as its own process. */
export interface Job {
  /** Unique name, shown in progress lines (`train vae-32`). */
  id: string;
  /** Arguments of the `avb` command line. */
  args: string[];
  /** Jobs that must have finished first (by id). */
  after?: string[];
  /** Where the command's stdout and stderr go (appended: a resumed job keeps its history). */
  log: string;
}

export interface JobProgress {
  id: string;
  done: number;
  total: number;
  /** Units per second as the command reported it. */
  rate: number;
  /** The part of the command's work these units count, after its first (`polish`). */
  phase?: string;
}

export interface QueueOptions {
  /** Commands run at once. */
  parallel: number;
  /** Threads of each command (`AVB_THREADS`; default 1). */
  threads?: number;
  onStart?: (job: Job) => void;
  onFinish?: (job: Job, seconds: number) => void;
  /** Polled every second: true stops the queue (running commands are sent SIGTERM). */
  shouldStop?: () => boolean;
  /** Called every `everySeconds` with each running command's last reported progress. */
  onProgress?: (running: JobProgress[]) => void;
  everySeconds?: number;
}

/** A line of the progress channel as a job's progress (nothing from a line that is not one). */
function progressLine(v: unknown): Omit<JobProgress, 'id'> | undefined {
  const p = v as Partial<JobProgress>;
  if (typeof p.done !== 'number' || typeof p.total !== 'number') return undefined;
  const phase = typeof p.phase === 'string' ? p.phase : undefined;
  return { done: p.done, total: p.total, rate: p.rate ?? 0, phase };
}

/** The `avb` program itself (`dist/cli/main.js`), which every job runs. */
const AVB_MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** The child's descriptor of the progress channel (JSON lines; `AVB_PROGRESS_FD`). */
const PROGRESS_FD = 3;

/**
 * Runs `jobs` as child processes of `avb`, `parallel` at a time, each after the jobs it names.
 * Children get `threads` threads (`AVB_THREADS`) and their own process group, so a Ctrl-C reaches
 * only this process, which passes one SIGTERM on: each child then writes its checkpoint and
 * exits. Returns `'stopped'` when stopped that way; throws a one-line error when a job fails.
 */
export async function runJobs(jobs: Job[], o: QueueOptions): Promise<'done' | 'stopped'> {
  const pending = [...jobs];
  const finished = new Set<string>();
  const running = new Map<string, { child: ChildProcess; progress: JobProgress }>();
  let failure: string | undefined;
  let stopping = false;
  let lastReport = performance.now();
  const ready = () =>
    pending.filter((j) => (j.after ?? []).every((a) => finished.has(a) || !hasJob(jobs, a)));

  return new Promise((resolve, reject) => {
    const tick = () => {
      if (!stopping && o.shouldStop?.()) {
        stopping = true;
        for (const r of running.values()) r.child.kill('SIGTERM');
      }
      while (!stopping && !failure && running.size < o.parallel) {
        const job = ready()[0];
        if (!job) break;
        pending.splice(pending.indexOf(job), 1);
        running.set(job.id, start(job));
      }
      if (running.size === 0) {
        clearInterval(timer);
        if (failure) reject(new AvbUserError(failure));
        else resolve(stopping || pending.length ? 'stopped' : 'done');
        return;
      }
      if (o.onProgress && performance.now() - lastReport >= (o.everySeconds ?? 30) * 1000) {
        lastReport = performance.now();
        o.onProgress([...running.values()].map((r) => r.progress));
      }
    };
    const start = (job: Job) => {
      makeOwnedFolder(dirname(job.log));
      recordOwned(job.log);
      const log = createWriteStream(job.log, { flags: 'a' });
      log.write(`$ avb ${job.args.join(' ')}\n`);
      const began = performance.now();
      const child = spawn(process.execPath, [SEMI_SPACE_FLAG, AVB_MAIN, ...job.args], {
        env: {
          ...process.env,
          AVB_THREADS: String(o.threads ?? 1),
          AVB_PROGRESS_FD: String(PROGRESS_FD),
        },
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        detached: true,
      });
      const progress: JobProgress = { id: job.id, done: 0, total: 0, rate: 0 };
      let lastLine = '';
      child.stdout!.pipe(log, { end: false });
      child.stderr!.on('data', (chunk: Buffer) => {
        log.write(chunk);
        for (const line of chunk.toString().split('\n')) if (line.trim()) lastLine = line.trim();
      });
      readJsonLines(child.stdio[PROGRESS_FD] as NodeJS.ReadableStream, (v) =>
        Object.assign(progress, progressLine(v)),
      );
      child.on('close', (code, signal) => {
        log.end();
        running.delete(job.id);
        if (code === 0) {
          finished.add(job.id);
          o.onFinish?.(job, (performance.now() - began) / 1000);
        } else if (!stopping) {
          failure ??= `${job.id} failed (exit ${code ?? signal}): ${lastLine || 'no output'}; its log: ${job.log}`;
          // The others stop too (each with its checkpoint), so the error comes at once.
          stopping = true;
          for (const r of running.values()) r.child.kill('SIGTERM');
        }
        tick();
      });
      o.onStart?.(job);
      return { child, progress };
    };
    const timer = setInterval(tick, 1000);
    tick();
  });
}

function hasJob(jobs: Job[], id: string): boolean {
  return jobs.some((j) => j.id === id);
}

/** Calls `f` with each JSON line of `stream` (lines that are not JSON are skipped). */
function readJsonLines(stream: NodeJS.ReadableStream, f: (value: unknown) => void): void {
  let rest = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      try {
        f(JSON.parse(line));
      } catch {
        // not a progress line
      }
    }
  });
}
