import { readFileSync, statSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { gunzipSync } from 'node:zlib';
import { AvbUserError } from '../errors.js';

/**
 * Reads a model's data file: JSON in CmdStan's / posteriordb's layout (`{"N": 3, "y": [...]}`),
 * plain (`.json`), gzipped (`.json.gz`) or as the one file of a zip archive (`.json.zip`, how
 * posteriordb stores data and reference draws). Failures are one-line {@link AvbUserError}s.
 */
export function readJsonData(path: string, what = 'data file'): unknown {
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory())
      throw new AvbUserError(`${what} ${path} is a folder, not a file`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof AvbUserError) throw e;
    throw new AvbUserError(`${what} ${path} does not exist or cannot be read; check the path`);
  }
  let text: string;
  try {
    if (path.endsWith('.gz')) text = gunzipSync(bytes).toString('utf8');
    else if (path.endsWith('.zip')) {
      const files = Object.entries(unzipSync(bytes)).filter(([name]) => !name.endsWith('/'));
      if (files.length !== 1) throw new Error(`the archive holds ${files.length} files, not one`);
      text = new TextDecoder().decode(files[0][1]);
    } else text = new TextDecoder().decode(bytes);
  } catch (e) {
    throw new AvbUserError(`${what} ${path} cannot be unpacked: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new AvbUserError(
      `${what} ${path} is not valid JSON (${(e as Error).message}); give a JSON object such as {"N": 3, "y": [1, 2, 3]}`,
    );
  }
}
