/**
 * safetensors files on disk: the format's reading lives in shared/engine/safetensors.ts (browser
 * and server alike); this opens paths and folders and writes files.
 */
import { writeFileSync } from 'node:fs';
import type { Tensor } from '../../shared/engine/decoder.js';
import { encodeSafetensors, openSafetensorsFiles, SafetensorsFile, type TensorStore, type WriteDtype } from '../../shared/engine/safetensors.js';
import { fileSource, folderFiles } from './files.js';

export * from '../../shared/engine/safetensors.js';

/** Opens `path` and validates its header; throws ModelError on any inconsistency. */
export function openSafetensorsFile(path: string): SafetensorsFile {
  return SafetensorsFile.fromSource(path, fileSource(path, `Safetensors file not found: ${path}`));
}

/** Opens `model.safetensors`, or the shards of `model.safetensors.index.json`, in `dir`. */
export function openSafetensorsDir(dir: string): TensorStore {
  return openSafetensorsFiles(folderFiles(dir));
}

/** Reads every float tensor of one safetensors file (convenience for small files and tools). */
export function readSafetensors(path: string): Record<string, Tensor> {
  const file = openSafetensorsFile(path);
  try {
    const out: Record<string, Tensor> = {};
    for (const name of file.names()) out[name] = file.read(name);
    return out;
  } finally {
    file.close();
  }
}

/** Writes tensors (in insertion order) as one safetensors file, rounding to `dtype` (nearest even). */
export function writeSafetensors(
  path: string,
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  dtype: WriteDtype = 'F32',
  metadata: Record<string, string> = { format: 'pt' },
): void {
  writeFileSync(path, encodeSafetensors(tensors, dtype, metadata));
}
