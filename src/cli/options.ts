import { InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES } from '../backend/initBackend.js';

// Option parsers shared by the commands: each value error is commander's one-line message.

/** The `--backend` option shared by every command that computes. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'tensor backend (default: $AVB_BACKEND, else auto)')
    .choices(['auto', ...BACKEND_NAMES])
    .default(undefined);
}

/** Parses a positive integer option value, or fails with commander's one-line error. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got '${value}'.`);
  }
  return n;
}

/** Parses a non-negative integer (seeds). */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'.`);
  }
  return n;
}

/** Parses a positive finite number (learning rates). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive number, got '${value}'.`);
  }
  return n;
}

/** Parses a fraction in [0, 1] (`avb infer --pool`). */
export function unitFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) {
    throw new InvalidArgumentError(`expected a number from 0 to 1, got '${value}'.`);
  }
  return n;
}

/** The `--threads` option: threads of the native addon (matrix products, large element-wise kernels). */
export function threadsOption(): Option {
  return new Option(
    '--threads <n>',
    'threads for matrix products (OpenBLAS) and large element-wise kernels (default: $AVB_THREADS, else every core)',
  ).argParser(positiveInt);
}
