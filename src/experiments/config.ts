import type { DataInfo } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { METHOD_SPECS } from './methods.js';
import { latentDefaults, presetFor, sizeToData } from './presets.js';
import { METHODS, RunConfigSchema } from './schema.js';
import type { ConfigOverrides, Method, RunConfig } from './schema.js';

export { METHODS, RunConfigSchema } from './schema.js';
export type { ConfigOverrides, Method, RunConfig } from './schema.js';
export { LARGE_EXAMPLE_SIZE } from './presets.js';

/** The paper's settings for `experiment` and `method` (../shared/AVB.md, section 4). */
export function defaultConfig(experiment: string, method: Method): RunConfig {
  return presetFor(experiment, method);
}

/**
 * Builds the configuration of a run: the experiment's preset for the method, then `file`
 * overrides (from `--config`), then `cli` overrides, checked against {@link RunConfigSchema}
 * and the method's needs. Problems throw {@link AvbUserError} naming the field. With `data`
 * (the loaded data set of a new run), the defaults of a user's data set are sized to it.
 */
export function resolveConfig(
  file: unknown,
  cli: ConfigOverrides,
  source = '--config',
  data?: DataInfo,
): RunConfig {
  return resolveConfigWithNotes(file, cli, source, data).config;
}

/** {@link resolveConfig}, with the defaults that were sized to the data, for the start line. */
export function resolveConfigWithNotes(
  file: unknown,
  cli: ConfigOverrides,
  source = '--config',
  data?: DataInfo,
): { config: RunConfig; notes: string[] } {
  const fromFile = (file ?? {}) as ConfigOverrides;
  if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    throw new AvbUserError(`${source}: expected a JSON object of settings`);
  }
  const experiment = cli.experiment ?? fromFile.experiment ?? 'synthetic';
  const method = cli.method ?? fromFile.method ?? 'avb';
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new AvbUserError(`unknown method '${method}'; use one of: ${METHODS.join(', ')}`);
  }
  const merged = merge(merge(presetFor(String(experiment), method), fromFile), cli);
  const config = parseConfig(merged, source);
  const overrides = merge(fromFile, cli) as ConfigOverrides;
  latentDefaults(config, overrides);
  const userData = /^(idx|npy):/.test(config.experiment) || config.experiment === 'digits8x8';
  const notes = data && userData ? sizeToData(config, data, overrides) : [];
  const problem =
    METHOD_SPECS[config.method].check(config) ??
    (config.adversary.type === 'inner-product' && config.adversary.innerDim < 1
      ? 'adversary.innerDim must be a positive integer for the inner-product adversary'
      : undefined);
  if (problem) throw new AvbUserError(problem);
  return { config, notes };
}

/** Checks a merged configuration against the schema; the first problem becomes one line. */
function parseConfig(value: unknown, source: string): RunConfig {
  const r = RunConfigSchema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  // Unknown fields first: a misspelt name explains the other problems.
  const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0];
  const field = issue.path.join('.');
  const got = JSON.stringify(issue.input);
  switch (issue.code) {
    case 'unrecognized_keys':
      throw new AvbUserError(
        `${source}: unknown field '${[...issue.path, issue.keys[0]].join('.')}'; see README (Configuration) for the fields`,
      );
    case 'invalid_type':
      throw new AvbUserError(
        `${source}: field '${field}' must be ${issue.expected === 'array' ? 'an array' : `a ${issue.expected}`}, got ${got}`,
      );
    case 'invalid_value':
      throw new AvbUserError(
        `${source}: ${field} must be one of ${issue.values.join(', ')}, got ${got}`,
      );
    default:
      throw new AvbUserError(`${source}: ${field} ${issue.message}, got ${got}`);
  }
}

function merge(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (
    a === null ||
    typeof a !== 'object' ||
    Array.isArray(a) ||
    b === null ||
    typeof b !== 'object' ||
    Array.isArray(b)
  ) {
    return structuredClone(b);
  }
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) if (v !== undefined) out[k] = merge(out[k], v);
  return out;
}
