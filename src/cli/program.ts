import { Command, CommanderError } from 'commander';
import { initBackend } from '../backend/initBackend.js';
import type { BackendChoice } from '../backend/initBackend.js';
import { summarize } from '../data/dataset.js';
import type { DataSummary } from '../data/dataset.js';
import { EIGHT_SCHOOLS_CLASSIC, EIGHT_SCHOOLS_PAPER } from '../data/eightSchools.js';
import { loadDataset } from '../data/loadDataset.js';
import { AvbUserError } from '../errors.js';
import { backendOption, positiveNumber, threadsOption } from './options.js';
import { printJson, printTable } from './output.js';
import { addApplyCommands } from './applyCommands.js';
import { addEvalCommands } from './evalCommands.js';
import { addInferCommand } from './inferCommand.js';
import { addTrainCommand } from './trainCommand.js';
import { addReproduceCommand } from './reproduce/command.js';
import { VERSION } from '../version.js';

function buildProgram(): Command {
  const program = new Command('avb')
    .description(
      'Adversarial Variational Bayes: train, evaluate and apply AVB from the command line',
    )
    .version(VERSION)
    .exitOverride();

  program
    .command('backend')
    .description('initialise the tensor backend and print which one runs, its version and threads')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print JSON')
    .action(async (opts: { backend?: BackendChoice; threads?: number; json?: boolean }) => {
      const info = await initBackend(opts.backend, { threads: opts.threads });
      if (opts.json) printJson(info);
      else
        printTable([
          ['backend', info.name],
          ['chosen by', info.chosenBy],
          ['version', info.version],
          // The wasm backend's own threads (its element-wise kernels); BLAS threads are below.
          ['backend threads', info.threads],
          ['patched kernels', info.patchedKernels.join(', ') || '(none)'],
          ...(info.blas
            ? [
                [
                  'native BLAS',
                  info.blas.core
                    ? `${info.blas.library}; core ${info.blas.core}${info.blas.coreChosenBy ? ` (chosen by ${info.blas.coreChosenBy})` : ''}; ${info.blas.threads} thread${info.blas.threads === 1 ? '' : 's'} for matrix products`
                    : info.blas.library,
                ] as [string, string],
              ]
            : []),
        ]);
    });

  const data = program.command('data').description('inspect data sets');
  data
    .command('info')
    .description(
      'print counts, shapes and value ranges of a data set: synthetic, mnist, digits8x8, eight-schools, idx:PATH, npy:PATH',
    )
    .argument('<name>', 'data set name')
    .option(
      '--scale <n>',
      "divide a data file's values by n, as avb train --scale does",
      positiveNumber,
    )
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean; scale?: number }) => {
      const info =
        name === 'eight-schools'
          ? { name, classic: EIGHT_SCHOOLS_CLASSIC, paper: EIGHT_SCHOOLS_PAPER }
          : summarize(loadDataset(name, { scale: opts.scale }));
      if (opts.json) printJson(info);
      else printDataInfo(info);
    });

  addTrainCommand(program);
  addEvalCommands(program);
  addApplyCommands(program);
  addInferCommand(program);
  addReproduceCommand(program);
  return program;
}

function printDataInfo(info: DataSummary | Record<string, unknown>): void {
  if (!('splits' in info)) {
    printJson(info);
    return;
  }
  const s = info as DataSummary;
  const rows: [string, string | number][] = [
    ['name', s.name],
    ['kind', s.kind],
    ['example shape', `[${s.exampleShape.join(', ')}]`],
    ['source', s.source],
  ];
  for (const [k, split] of Object.entries(s.splits)) {
    rows.push([
      k,
      `${split.count} examples, values in [${fmt(split.min)}, ${fmt(split.max)}], mean ${fmt(split.mean)}`,
    ]);
  }
  printTable(rows);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and returns the exit code:
 * 0 on success, 2 for bad input or options (one line on stderr), 1 for internal errors.
 */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    // A command may set a non-zero status without failing (a diverged training run: 3).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its one-line message already; help and version exit 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof AvbUserError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`internal error (please report): ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
