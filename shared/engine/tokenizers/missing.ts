/**
 * Stands in when a model comes without tokenizer files: the model still loads, so token ids
 * (the CLI's --tokens) work, while encoding text fails with a ModelError saying what to pass.
 * Tokens print as their ids ("<42>").
 */
import { ModelError, type Tokenizer } from '../decoder.js';

export class MissingTokenizer implements Tokenizer {
  readonly bosId = null;
  readonly vocabSize: number;
  readonly eosId: number | null;
  private readonly why: string;

  constructor(vocabSize: number, eosId: number | null, why: string) {
    this.vocabSize = vocabSize;
    this.eosId = eosId;
    this.why = why;
  }

  encode(_text: string): number[] {
    throw new ModelError(`${this.why}; pass --tokenizer PATH, or give token ids with --tokens`);
  }

  decode(ids: number[]): string {
    return ids.map((id) => this.tokenString(id)).join('');
  }

  tokenString(id: number): string {
    return `<${id}>`;
  }
}
