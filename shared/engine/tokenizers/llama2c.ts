/**
 * The llama2.c tokenizer `.bin` (sentencepiece-style BPE exported by llama2.c's tokenizer.py),
 * written by hand after run.c. File: int32 max_token_length, then per token: float32 merge
 * score, int32 byte length, the bytes. The file does not store the vocabulary size; every record
 * up to the end of the file is read. Ids 0, 1, 2 are <unk>, BOS, EOS; 3..258 the raw bytes
 * 0x00..0xFF (byte fallback, written `<0xNN>`).
 *
 * encode: BOS; if the text is not empty a leading space; each UTF-8 character as its token, or
 * its bytes' tokens when it has none; then repeatedly merge the adjacent pair whose concatenated
 * string is a token with the highest score (the leftmost on ties) until no pair merges.
 * decode: a token right after BOS loses its leading space; `<0xNN>` tokens are raw bytes; BOS and
 * EOS print nothing; the bytes are UTF-8 decoded together (so split characters reassemble).
 */
import { ModelError, type Tokenizer } from '../decoder.js';

const UNK = 0;
const BOS = 1;
const EOS = 2;
const BYTE_BASE = 3;
const utf8 = new TextEncoder();

export class Llama2cTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId = BOS;
  readonly eosId = EOS;
  /** Each token's bytes, and its merge score. */
  private readonly pieces: Uint8Array[];
  private readonly scores: Float32Array;
  /** Each token's bytes as a latin1 string (one char per byte), for lookups. */
  private readonly keys: string[];
  /** Token bytes (as latin1 strings, one char per byte) → id; the lowest id wins on duplicates. */
  private readonly ids = new Map<string, number>();

  constructor(pieces: Uint8Array[], scores: Float32Array) {
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    this.keys = pieces.map(latin1);
    this.keys.forEach((key, id) => {
      if (!this.ids.has(key)) this.ids.set(key, id);
    });
  }

  /** Parses a tokenizer `.bin`'s bytes (`path` names it in messages); a truncated or malformed
   * file gives a ModelError. On the server: server/engine/tokenizers/llama2c-file.ts. */
  static fromBytes(path: string, buf: Uint8Array): Llama2cTokenizer {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const bad = (why: string) => new ModelError(`${path}: not a valid llama2.c tokenizer: ${why}`);
    if (buf.length < 4) throw bad('shorter than its 4-byte header');
    const maxLength = view.getInt32(0, true);
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    let p = 4;
    while (p < buf.length) {
      if (p + 8 > buf.length) throw bad(`truncated record for token ${pieces.length}`);
      const score = view.getFloat32(p, true);
      const length = view.getInt32(p + 4, true);
      p += 8;
      if (length < 0 || length > maxLength || p + length > buf.length) throw bad(`token ${pieces.length} has byte length ${length} (max ${maxLength}, ${buf.length - p} bytes left)`);
      pieces.push(new Uint8Array(buf.subarray(p, p + length)));
      scores.push(score);
      p += length;
    }
    if (pieces.length <= BYTE_BASE + 255) throw bad(`only ${pieces.length} tokens; expected <unk>, BOS, EOS and 256 byte tokens at least`);
    return new Llama2cTokenizer(pieces, Float32Array.from(scores));
  }

  encode(text: string): number[] {
    const tokens: number[] = [];
    if (text.length > 0) {
      // A leading space (sentencepiece's dummy prefix), then one token per UTF-8 character.
      for (const char of ` ${text}`) {
        const bytes = utf8.encode(char);
        const id = this.ids.get(latin1(bytes));
        if (id !== undefined) tokens.push(id);
        else for (const byte of bytes) tokens.push(byte + BYTE_BASE);
      }
    }
    // Merge the best-scoring adjacent pair until none merges.
    for (;;) {
      let bestScore = -Infinity;
      let bestId = -1;
      let bestAt = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = this.ids.get(this.keys[tokens[i]!]! + this.keys[tokens[i + 1]!]!);
        if (id !== undefined && this.scores[id]! > bestScore) {
          bestScore = this.scores[id]!;
          bestId = id;
          bestAt = i;
        }
      }
      if (bestAt < 0) break;
      tokens.splice(bestAt, 2, bestId);
    }
    return [BOS, ...tokens];
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    ids.forEach((id, k) => {
      if (id === BOS || id === EOS) return;
      let piece = this.bytesOf(id);
      if (ids[k - 1] === BOS && piece[0] === 0x20) piece = piece.subarray(1);
      for (const b of piece) bytes.push(b);
    });
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }

  tokenString(id: number): string {
    if (id === UNK || id === BOS || id === EOS) return new TextDecoder().decode(this.piece(id)).trim(); // "<unk>", "<s>", "</s>"
    const byte = this.byteValue(id);
    if (byte !== null) return byte < 0x80 ? String.fromCharCode(byte) : `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
    return new TextDecoder().decode(this.piece(id));
  }

  /** The bytes a token stands for: `<0xNN>` is the byte NN, anything else its own text. */
  private bytesOf(id: number): Uint8Array {
    const byte = this.byteValue(id);
    return byte === null ? this.piece(id) : Uint8Array.of(byte);
  }

  private byteValue(id: number): number | null {
    this.piece(id); // range check
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(this.keys[id]!);
    return m ? parseInt(m[1]!, 16) : null;
  }

  private piece(id: number): Uint8Array {
    const piece = this.pieces[id];
    if (!piece) throw new ModelError(`token id ${id} is outside the tokenizer's vocabulary (0..${this.vocabSize - 1})`);
    return piece;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
