/**
 * A model's files as the engine reads them, wherever they are: a folder on the server's disk
 * (server/engine/files.ts), files fetched by the page or dropped onto it (`memoryFiles`). Names
 * are relative to the model's folder ('config.json', 'model.safetensors'); `path` gives what
 * error messages show.
 */
import { ModelError } from './decoder.js';

/** Random access to one file's bytes (big weights are read tensor by tensor, never whole). */
export interface ByteSource {
  readonly size: number;
  /** Fills `into` from `position`; a ModelError if the file ends first. */
  read(into: Uint8Array, position: number): void;
  close(): void;
}

export interface ModelFiles {
  /** The folder (or its name), for messages. */
  readonly root: string;
  path(name: string): string;
  exists(name: string): boolean;
  /** A whole (small) file as UTF-8 text. */
  text(name: string): string;
  open(name: string): ByteSource;
}

/** Bytes held in memory as one file. */
export function bufferSource(bytes: Uint8Array, path: string): ByteSource {
  return {
    size: bytes.byteLength,
    read(into, position) {
      if (position + into.length > bytes.byteLength) throw new ModelError(`${path}: unexpected end of file (truncated?)`);
      into.set(bytes.subarray(position, position + into.length));
    },
    close() {},
  };
}

/** Files already in memory, by name (fetched over HTTP, or dropped onto the page). */
export function memoryFiles(root: string, files: ReadonlyMap<string, Uint8Array>): ModelFiles {
  const path = (name: string) => `${root}/${name}`;
  const get = (name: string) => {
    const bytes = files.get(name);
    if (!bytes) throw new ModelError(`${path(name)}: not found`);
    return bytes;
  };
  return {
    root,
    path,
    exists: (name) => files.has(name),
    text: (name) => new TextDecoder().decode(get(name)),
    open: (name) => bufferSource(get(name), path(name)),
  };
}

/** The JSON object in `name`, with a ModelError naming the file when it is not one. */
export function readJsonObject(files: ModelFiles, name: string): Record<string, unknown> {
  try {
    const value = JSON.parse(files.text(name)) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ModelError) throw error;
    throw new ModelError(`${files.path(name)}: not valid JSON (${(error as Error).message})`);
  }
}
