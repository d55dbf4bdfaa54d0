/** llama2.c checkpoints on disk: shared/engine/loaders/llama2c.ts reading a file. */
import type { Decoder } from '../../../shared/engine/decoder.js';
import { loadLlama2c as loadLlama2cSource } from '../../../shared/engine/loaders/llama2c.js';
import { fileSource } from '../files.js';

export { rotateHalfOrder, readLlama2cHeader, llama2cSpec } from '../../../shared/engine/loaders/llama2c.js';

/** Reads a version-0 llama2.c `.bin` file. */
export function loadLlama2c(path: string): Decoder {
  return loadLlama2cSource(path, fileSource(path, `Model file not found: ${path}`));
}
