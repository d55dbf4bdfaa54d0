/**
 * A transcoder set on the server's disk: `path` is its folder or its config file. The reading and
 * checking is shared/transcoders/load.ts (the in-browser engine reads fetched files through it);
 * this opens the folder, where a config may also name files by absolute path.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ModelError, type DecoderSpec } from '../../shared/engine/decoder.js';
import type { ModelFiles } from '../../shared/engine/files.js';
import { loadTranscoderSet as loadTranscoderFiles, type TranscoderSet } from '../../shared/transcoders/load.js';
import { folderFiles } from '../engine/files.js';

export type { LayerTranscoder, TranscoderActivation, TranscoderInputHook, TranscoderSet } from '../../shared/transcoders/load.js';

/** Reads and checks the transcoder set in `path` (a directory or its config file) for a model. */
export function loadTranscoderSet(path: string, spec: DecoderSpec): TranscoderSet {
  if (!existsSync(path)) throw new ModelError(`Transcoder directory not found: ${path}`);
  if (statSync(path).isDirectory()) return loadTranscoderFiles(transcoderFolder(path), spec);
  return loadTranscoderFiles(transcoderFolder(dirname(path)), spec, basename(path));
}

/** The files of folder `dir` (a config may name layer files by absolute path). */
export function transcoderFolder(dir: string): ModelFiles {
  return folderFiles(dir, (path) => `Safetensors file not found: ${path}`);
}

