/**
 * Errors the user can fix: bad input files, bad options, bad configuration.
 *
 * The CLI prints `error: <message>` on one line and exits with code 2 for these; any other
 * exception is a bug in avb and is reported with its stack. Messages name the problem and the
 * fix, e.g. `data file /x/train.idx is truncated: header says 60000 images of 28x28 (47040016
 * bytes) but the file has 1000 bytes; re-download it or point --experiment at a complete file`.
 */
export class AvbUserError extends Error {
  override readonly name = 'AvbUserError';
  /** Process exit code the CLI uses for this error. */
  readonly exitCode = 2;
}
