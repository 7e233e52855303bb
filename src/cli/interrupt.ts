/** Exit codes of a run stopped by a signal, as shells report them: 128 + the signal number. */
export const EXIT_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

export type StopSignal = keyof typeof EXIT_SIGNAL;

/**
 * Turns SIGINT (Ctrl-C) and SIGTERM (`kill`, `timeout`, container stops) into a polite request
 * to stop: `requested()` becomes the signal's name, and the work checks it between steps to
 * write its checkpoint and summary first. A second signal aborts at once. `release()` restores
 * the default handlers.
 */
export function watchStopSignals(notice: string): {
  requested: () => StopSignal | undefined;
  release: () => void;
} {
  let got: StopSignal | undefined;
  const handlers = (Object.keys(EXIT_SIGNAL) as StopSignal[]).map((signal) => {
    const handler = () => {
      if (got) process.exit(EXIT_SIGNAL[got]);
      got = signal;
      process.stderr.write(`\n${signal}: ${notice} (send it again to abort)\n`);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return {
    requested: () => got,
    release: () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}
