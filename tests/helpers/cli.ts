/**
 * Runs the engine CLI (`tsx server/cli.ts ...`) as a child process, as a user's shell would, and
 * returns its exit code and output instead of throwing on a non-zero exit.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';

const run = promisify(execFile);
export const repoRoot = new URL('../../', import.meta.url).pathname;
const tsx = join(repoRoot, 'node_modules/.bin/tsx');

export async function runCli(args: string[], maxBuffer = 256 << 20): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, ['server/cli.ts', ...args], { cwd: repoRoot, maxBuffer });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A failure as users should see it: exit 1, one `error:` line matching `pattern`, no stack. */
export function expectCleanFailure(result: { code: number; stderr: string }, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: /m);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}
