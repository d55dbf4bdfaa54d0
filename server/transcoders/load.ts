/**
 * A transcoder set on the server's disk: `path` is its folder or its config file. The reading and
 * checking is shared/transcoders/load.ts (the in-browser engine reads fetched files through it);
 * this opens the folder, where a config may also name files by absolute path.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { ModelError, type DecoderSpec } from '../../shared/engine/decoder.js';
import type { ModelFiles } from '../../shared/engine/files.js';
import { loadTranscoderSet as loadTranscoderFiles, type TranscoderSet } from '../../shared/transcoders/load.js';
import { fileSource } from '../engine/files.js';

export type { LayerTranscoder, TranscoderActivation, TranscoderInputHook, TranscoderSet } from '../../shared/transcoders/load.js';

/** Reads and checks the transcoder set in `path` (a directory or its config file) for a model. */
export function loadTranscoderSet(path: string, spec: DecoderSpec): TranscoderSet {
  if (!existsSync(path)) throw new ModelError(`Transcoder directory not found: ${path}`);
  if (statSync(path).isDirectory()) return loadTranscoderFiles(transcoderFolder(path), spec);
  return loadTranscoderFiles(transcoderFolder(dirname(path)), spec, basename(path));
}

/** The files of folder `dir`; a name that is an absolute path is that file. */
export function transcoderFolder(dir: string): ModelFiles {
  const path = (name: string) => (isAbsolute(name) ? name : join(dir, name));
  return {
    root: dir,
    path,
    exists: (name) => existsSync(path(name)),
    text: (name) => {
      if (!existsSync(path(name))) throw new ModelError(`File not found: ${path(name)}`);
      return readFileSync(path(name), 'utf8');
    },
    open: (name) => fileSource(path(name), `Safetensors file not found: ${path(name)}`),
  };
}

