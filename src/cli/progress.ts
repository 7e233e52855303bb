import cliProgress from 'cli-progress';
import { writeSync } from 'node:fs';
import type { StepMetrics } from '../train/trainer.js';

/** The descriptor of the machine-readable progress channel, when a parent process opened one. */
const PROGRESS_FD =
  process.env.AVB_PROGRESS_FD !== undefined ? Number(process.env.AVB_PROGRESS_FD) : undefined;

/**
 * Training progress on stderr: a live bar with ETA and the main figures on a terminal, or one
 * plain line every `everySeconds` otherwise (logs, CI), the first at the first unit of work (a
 * log that stays empty for its first 15 s looks like a hang).
 */
export class TrainingProgress {
  private bar?: cliProgress.SingleBar;
  private lastLine = -Infinity;
  // -Infinity: the first unit of work is always reported. A phase that starts less than a second
  // after the process did (a quick fit on a fast machine, then its polish) was otherwise silent.
  private lastJson = -Infinity;
  /** The last `done` the once-a-second limit kept off the progress channel, until one is sent. */
  private heldBack: number | undefined;
  private startTime = 0;
  private startStep = 0;

  /** `phase`: which part of the work this bar counts, for a parent process (`emitJson`). */
  constructor(
    private readonly total: number,
    private readonly everySeconds = 15,
    private readonly label = 'train',
    private readonly phase?: string,
  ) {}

  start(startStep: number): void {
    this.startStep = startStep;
    this.startTime = performance.now();
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${this.label} {bar} {value}/{total} | ETA {eta_formatted} | {figures}`,
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 200,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(this.total, startStep, { figures: '' });
    }
  }

  update(m: StepMetrics): void {
    this.tick(m.step, describe(m));
  }

  /** `done` of the total units of work are finished; `figures` are shown beside the count. */
  tick(done: number, figures = ''): void {
    this.emitJson(done);
    if (this.bar) {
      this.bar.update(done, { figures });
      return;
    }
    const now = performance.now();
    if (now - this.lastLine >= this.everySeconds * 1000 || done === this.total) {
      this.lastLine = now;
      const rate = (done - this.startStep) / ((now - this.startTime) / 1000);
      // The first line, at the first unit of work, has no rate to tell yet.
      const speed =
        rate > 0 && Number.isFinite(rate)
          ? ` | ${rate.toFixed(1)}/s | ETA ${formatSeconds((this.total - done) / rate)}`
          : '';
      process.stderr.write(
        `${this.label} ${done}/${this.total}${speed}${figures ? ` | ${figures}` : ''}\n`,
      );
    }
  }

  /**
   * Progress for a parent process (`avb reproduce`), which passes a pipe's descriptor in
   * `AVB_PROGRESS_FD`: a JSON line `{"done", "total", "rate"}` at most every second and at the
   * end, with `"phase"` when the work after a fit counts (`"refit"`, `"polish"`: a new total).
   * The line for people is free to change; this one is the protocol.
   */
  private emitJson(done: number, force = false): void {
    if (PROGRESS_FD === undefined) return;
    const now = performance.now();
    if (!force && now - this.lastJson < 1000 && done !== this.total) {
      this.heldBack = done;
      return;
    }
    this.lastJson = now;
    this.heldBack = undefined;
    const rate = (done - this.startStep) / Math.max(1e-9, (now - this.startTime) / 1000);
    try {
      const line = { done, total: this.total, rate, ...(this.phase ? { phase: this.phase } : {}) };
      writeSync(PROGRESS_FD, JSON.stringify(line) + '\n');
    } catch {
      // The parent went away: progress is not worth failing the work for.
    }
  }

  /** A warning, on its own line (above the bar on a terminal). */
  notice(message: string): void {
    this.line(`warning: ${message}`);
  }

  /** A line of information (a held-out estimate), on its own line. */
  info(message: string): void {
    this.line(message);
  }

  private line(text: string): void {
    if (this.bar) process.stderr.write('\n');
    process.stderr.write(`${text}\n`);
  }

  /**
   * Ends the bar. Work that stopped short of its total (a polish whose chains forgot q early, a
   * fit that converged) sends where it ended, if the once-a-second limit held that line back.
   */
  stop(): void {
    if (this.heldBack !== undefined) this.emitJson(this.heldBack, true);
    this.bar?.stop();
  }
}

function describe(m: StepMetrics): string {
  const parts: string[] = [];
  if (m.elbo !== undefined) parts.push(`elbo ${m.elbo.toFixed(3)}`);
  if (m.reconstruction !== undefined) parts.push(`rec ${m.reconstruction.toFixed(3)}`);
  if (m.kl !== undefined) parts.push(`kl ${m.kl.toFixed(3)}`);
  if (m.adversaryAccuracy !== undefined) parts.push(`adv acc ${m.adversaryAccuracy.toFixed(2)}`);
  return parts.join(' ');
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const mi = Math.floor((s % 3600) / 60);
  const se = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(mi).padStart(2, '0')}m` : `${mi}m${String(se).padStart(2, '0')}s`;
}
