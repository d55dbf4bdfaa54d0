import { defineConfig } from 'vitest/config';

// Browser tests: headless Chromium (Debian's /usr/bin/chromium) against the real server.
// One file at a time — each starts a server and a browser, and the machine has two cores.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
    reporters: ['default'],
  },
});
