import { execFileSync } from 'node:child_process';

/** Vitest global setup: builds dist/ (what the CLI tests run) from the current sources. */
export default function setup(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
}
