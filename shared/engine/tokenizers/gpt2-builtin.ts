/**
 * GPT-2's byte-level BPE (tiktoken's r50k_base, 50257 tokens) as shipped inside gpt-tokenizer,
 * for a GPT-2 checkpoint directory that comes without tokenizer files. Matches Hugging Face's
 * GPT2Tokenizer: no BOS is prepended, `<|endoftext|>` (50256) is the EOS and is recognised in text.
 */
import r50k from 'gpt-tokenizer/encoding/r50k_base';
import r50kRanks from 'gpt-tokenizer/bpeRanks/r50k_base';
import { printableBytes } from './printable.js';
import type { Tokenizer } from '../decoder.js';

const END_OF_TEXT = '<|endoftext|>';
const END_OF_TEXT_ID = 50256;

export class Gpt2BuiltinTokenizer implements Tokenizer {
  readonly vocabSize = 50257;
  readonly bosId = null;
  readonly eosId = END_OF_TEXT_ID;

  encode(text: string): number[] {
    // gpt-tokenizer's r50k treats "<|endoftext|>" as plain text; HF maps it to its id, as here.
    const ids: number[] = [];
    text.split(END_OF_TEXT).forEach((part, i) => {
      if (i > 0) ids.push(END_OF_TEXT_ID);
      if (part.length > 0) ids.push(...r50k.encode(part));
    });
    return ids;
  }

  decode(ids: number[]): string {
    return r50k.decode(ids.filter((id) => id !== END_OF_TEXT_ID));
  }

  tokenString(id: number): string {
    if (id === END_OF_TEXT_ID) return END_OF_TEXT;
    // From the token's own entry in the ranks (text, or bytes when it is not valid UTF-8 alone):
    // r50k.decode buffers an incomplete character until a later call.
    const entry = r50kRanks[id];
    if (entry === undefined) return '';
    return typeof entry === 'string' ? entry : printableBytes(Uint8Array.from(entry));
  }
}
