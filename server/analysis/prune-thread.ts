/**
 * Runs graph-prune.ts in a worker thread. Workers inherit no module loader (neither tsx's
 * under `npm start` nor vitest's transform), so the worker registers tsx's ESM loader itself
 * before importing its TypeScript entry; this works under tsx, vitest and plain Node alike.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { setPruneRunner } from '../../shared/analysis/graph.js';
import type { PrunedGraph, PruneRequest } from '../../shared/analysis/graph-prune.js';

const entry = new URL('./prune-worker.ts', import.meta.url).href;
const tsxApi = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;

// Valid both as a CommonJS script and as an ES module (an eval'd worker is either, depending on
// the process's --input-type): dynamic imports only.
const bootstrap = `
import('node:worker_threads').then(async ({ workerData }) => {
  const { entry, tsxApi } = workerData.__bootstrap;
  const { register } = await import(tsxApi);
  register();
  await import(entry);
});
`;

/** Prunes in a fresh worker (its memory is returned when it exits). */
export function pruneInWorker(request: PruneRequest): { result: Promise<PrunedGraph>; terminate: () => void } {
  const worker = new Worker(bootstrap, { eval: true, workerData: { ...request, __bootstrap: { entry, tsxApi } } });
  const result = new Promise<PrunedGraph>((resolve, reject) => {
    worker.once('message', (message: { ok: true; value: PrunedGraph } | { ok: false; error: string }) => {
      if (message.ok) resolve(message.value);
      else reject(new Error(`graph pruning failed: ${message.error}`));
      void worker.terminate();
    });
    worker.once('error', (error) => reject(error));
    worker.once('exit', (code) => reject(new Error(`graph pruning worker exited (code ${code})`)));
  });
  return { result, terminate: () => void worker.terminate() };
}

setPruneRunner(pruneInWorker);
