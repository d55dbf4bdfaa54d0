/** llama2.c tokenizer files on disk: shared/engine/tokenizers/llama2c.ts reading a file. */
import { existsSync, readFileSync } from 'node:fs';
import { ModelError } from '../../../shared/engine/decoder.js';
import { Llama2cTokenizer } from '../../../shared/engine/tokenizers/llama2c.js';

export { Llama2cTokenizer };

/** Parses a tokenizer `.bin` file; a missing, truncated or malformed one gives a ModelError. */
export function readLlama2cTokenizer(path: string): Llama2cTokenizer {
  if (!existsSync(path)) throw new ModelError(`Tokenizer file not found: ${path}`);
  return Llama2cTokenizer.fromBytes(path, readFileSync(path));
}
