/**
 * Worker-thread entry: prunes and exports one graph (graph-prune.ts) off the event loop.
 * Receives a PruneRequest as workerData, posts back { ok, value } or { ok: false, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { prunedGraphText, type PruneRequest } from '../../shared/analysis/graph-prune.js';

try {
  parentPort!.postMessage({ ok: true, value: prunedGraphText(workerData as PruneRequest) });
} catch (error) {
  parentPort!.postMessage({ ok: false, error: (error as Error)?.stack ?? String(error) });
}
