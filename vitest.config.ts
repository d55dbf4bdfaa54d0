import { defineConfig } from 'vitest/config';

// Unit and integration tests (Node). Browser tests live in tests/e2e and run with
// `npm run test:e2e` (vitest.e2e.config.ts).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    // The engine's runtime (onnxruntime-node) for tests that build runners without loading a model.
    setupFiles: ['tests/setup/node-runtime.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: keep parallelism modest so ONNX Runtime sessions do not fight.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
