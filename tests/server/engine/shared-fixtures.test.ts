/**
 * The rule for tests that need ../shared (tests/helpers/shared-fixtures.ts), checked on a real
 * fixture test run by vitest in a child process with the fixtures pointed at a folder that does
 * not exist: without CI it is skipped and passes; with CI set the same run fails and says what
 * is missing.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;

async function vitest(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'CI' && k !== 'NODE_ENV'));
  const child = spawn(join(root, 'node_modules/.bin/vitest'), ['run', 'tests/server/engine/stories260k.test.ts'],
    { cwd: root, env: { ...base, CIRCUITS_SHARED_DIR: join(root, 'no-such-shared-folder'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

describe('tests that need ../shared', () => {
  it('skip without CI and fail under CI when the fixtures are missing', async () => {
    const local = await vitest({});
    expect(local.code, local.output).toBe(0);
    expect(local.output).toMatch(/skipping the stories260K tests: .*no-such-shared-folder/);
    const ci = await vitest({ CI: 'true' });
    expect(ci.code, ci.output).not.toBe(0);
    expect(ci.output).toMatch(/has the fixtures for the stories260K tests/);
    expect(ci.output).toMatch(/under CI this fails instead of skipping/);
  }, 120_000);
});
