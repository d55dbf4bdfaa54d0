/**
 * Live transcoders on the server: the set in a folder (or config file) on disk, hosted
 * (shared/transcoders/live.ts), and where a model folder keeps its own.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Decoder } from '../../shared/engine/decoder.js';
import { HostedTranscoders } from '../../shared/transcoders/live.js';
import { loadTranscoderSet } from './load.js';

export { HostedTranscoders };

/** Where a model's own transcoders live: `<model dir>/transcoders`, when that folder exists. */
export function bundledTranscoders(modelPath: string): string | null {
  const dir = join(modelPath, 'transcoders');
  return existsSync(dir) ? dir : null;
}

/** Loads and checks the set in `path` (a folder or its config file) against the model, and hosts it. */
export function loadHostedTranscoders(path: string, decoder: Decoder): Promise<HostedTranscoders> {
  return HostedTranscoders.create(loadTranscoderSet(path, decoder.spec), decoder);
}
