/**
 * Runs the engine CLI (`tsx server/cli.ts ...`) as a child process, as a user's shell would, and
 * returns its exit code and output instead of throwing on a non-zero exit.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
