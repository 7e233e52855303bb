import type { Command } from 'commander';

/** Placeholder replaced by the AVB training command. */
export function addTrainCommand(_program: Command): void {}
