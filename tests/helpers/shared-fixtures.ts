/**
 * The fixtures that live outside the repository, in ../shared/fixtures (stories260K: a llama2.c
 * checkpoint and its tokenizer), and the one rule for tests that need them: on a developer's
 * machine without that folder they are skipped with a line saying so; under CI (process.env.CI
 * set) a missing fixture is a failing test, so a CI run can never pass by skipping them.
 * CIRCUITS_SHARED_DIR points elsewhere than ../shared (the test of this rule uses it).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

const sharedDir = process.env.CIRCUITS_SHARED_DIR
  ? resolve(process.env.CIRCUITS_SHARED_DIR)
  : fileURLToPath(new URL('../../../shared/', import.meta.url));

/** ../shared/fixtures/stories260K/ (with a trailing slash). */
export const stories260K = join(sharedDir, 'fixtures/stories260K/');

/** Whether CI is set (any value but empty, 0 or false). */
export function underCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * True when every file exists. Otherwise false, and: under CI a test named after `what` is
 * registered that fails saying what is missing; elsewhere one line says what is skipped.
 * Use as `describe.skipIf(!needSharedFixtures(...))`.
 */
export function needSharedFixtures(what: string, ...files: string[]): boolean {
  const missing = files.filter((file) => !existsSync(file));
  if (missing.length === 0) return true;
  const message = `${what} need${missing.length === 1 ? 's' : ''} ${missing.join(', ')} (the ../shared fixtures), which is missing`;
  if (underCi()) {
    it(`has the fixtures for ${what}`, () => {
      throw new Error(`${message}; under CI this fails instead of skipping. Check out ../shared beside the repository.`);
    });
  } else {
    console.log(`skipping ${what}: ${missing.join(', ')} is absent`);
  }
  return false;
}
