import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvbUserError } from '../errors.js';
import { readJsonData } from '../io/jsonData.js';

/**
 * Reading posteriordb (stan-dev/posteriordb): posteriors (a model and a data set), their data
 * and their reference draws, in either of two layouts:
 * - a clone of the database: `posterior_database/posteriors/<name>.json`,
 *   `data/data/<data>.json.zip`, `reference_posteriors/draws/draws/<name>.json.zip` (the path
 *   may be the clone or its `posterior_database` folder);
 * - one folder per posterior, as avb's vendored subset (`examples/posteriordb/`):
 *   `<name>/posterior.json`, `data.json.gz`, `reference_draws.json.gz`.
 */

/** avb's own subset of posteriordb and its model translations, shipped in the package. */
export const VENDORED_POSTERIORDB = fileURLToPath(
  new URL('../../examples/posteriordb', import.meta.url),
);
export const VENDORED_TRANSLATIONS = join(VENDORED_POSTERIORDB, 'models');

/** One posterior of the database. */
export interface PosteriorEntry {
  name: string;
  /** posteriordb's model name: the translation is `<models>/<modelName>.mjs`. */
  modelName: string;
  /** The model's Stan program, run directly where no translation exists. */
  stanFile: string;
  dataFile: string;
  /** Absent when the database has no reference draws for it. */
  referenceFile?: string;
  keywords: string[];
}

interface PosteriorJson {
  name: string;
  model_name: string;
  data_name: string;
  reference_posterior_name?: string | null;
  keywords?: string[];
}

/** The posteriors under `root`, by name, in either layout. */
export function listPosteriors(root: string): PosteriorEntry[] {
  if (!existsSync(root))
    throw new AvbUserError(`posteriordb folder ${root} does not exist; check --path`);
  const db = existsSync(join(root, 'posterior_database')) ? join(root, 'posterior_database') : root;
  if (existsSync(join(db, 'posteriors'))) {
    return readdirSync(join(db, 'posteriors'))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => {
        const p = readPosteriorJson(join(db, 'posteriors', f));
        const ref = p.reference_posterior_name;
        const refFile = ref
          ? join(db, 'reference_posteriors', 'draws', 'draws', `${ref}.json.zip`)
          : undefined;
        return {
          name: p.name,
          modelName: p.model_name,
          stanFile: join(db, 'models', 'stan', `${p.model_name}.stan`),
          dataFile: join(db, 'data', 'data', `${p.data_name}.json.zip`),
          ...(refFile && existsSync(refFile) ? { referenceFile: refFile } : {}),
          keywords: p.keywords ?? [],
        };
      });
  }
  const entries = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'posterior.json')))
    .map((d) => d.name)
    .sort();
  if (entries.length === 0)
    throw new AvbUserError(
      `${root} holds no posteriors (neither posterior_database/posteriors/ nor <name>/posterior.json); give --path a posteriordb clone`,
    );
  return entries.map((name) => {
    const dir = join(root, name);
    const p = readPosteriorJson(join(dir, 'posterior.json'));
    const refFile = join(dir, 'reference_draws.json.gz');
    return {
      name: p.name,
      modelName: p.model_name,
      stanFile: join(dir, 'model.stan'),
      dataFile: join(dir, 'data.json.gz'),
      ...(existsSync(refFile) ? { referenceFile: refFile } : {}),
      keywords: p.keywords ?? [],
    };
  });
}

function readPosteriorJson(file: string): PosteriorJson {
  let p: PosteriorJson;
  try {
    p = JSON.parse(readFileSync(file, 'utf8')) as PosteriorJson;
  } catch (e) {
    throw new AvbUserError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (
    typeof p.name !== 'string' ||
    typeof p.model_name !== 'string' ||
    typeof p.data_name !== 'string'
  )
    throw new AvbUserError(`${file} is not a posteriordb posterior (name, model_name, data_name)`);
  return p;
}

/** Reference draws: every chain pooled, by quantity name (Stan's names: `theta[1]`, `sigma`). */
export function readReferenceDraws(file: string): Record<string, number[]> {
  const chains = readJsonData(file, 'reference draws') as Record<string, number[]>[];
  if (!Array.isArray(chains) || chains.length === 0 || typeof chains[0] !== 'object')
    throw new AvbUserError(`reference draws ${file} are not a list of chains`);
  const out: Record<string, number[]> = {};
  for (const name of Object.keys(chains[0])) out[name] = chains.flatMap((c) => c[name]);
  return out;
}
