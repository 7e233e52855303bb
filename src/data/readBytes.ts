import { readFileSync, statSync } from 'node:fs';
import { AvbUserError } from '../errors.js';

/** Reads a whole file, turning file-system failures into one-line user errors. */
export function readBytes(path: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new AvbUserError(`data file ${path} does not exist; check the path`);
  }
  if (st.isDirectory()) throw new AvbUserError(`data file ${path} is a directory, not a file`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new AvbUserError(
      `cannot read data file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}
