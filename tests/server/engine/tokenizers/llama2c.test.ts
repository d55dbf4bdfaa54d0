/**
 * The hand-written llama2.c tokenizer on the real stories260K tokenizer (tok512.bin), against ids
 * derived by hand from the fixture README's algorithm and the vocabulary, and on a tiny
 * tokenizer file written here (so the merge rules are checked even where the fixtures are absent).
 *
 * Vocabulary facts used below (id: string, score), read from tok512.bin:
 *   1 BOS; 3..258 bytes <0x00>..<0xFF> (byte b is id b + 3); merged pieces have score −(id − 259):
 *   259 " t" 0 · 260 "he" −1 · 261 " a" −2 · 262 " s" −3 · 264 "nd" −5 · 268 " b" −9 · 270 " h" −11
 *   274 " T" −15 · 279 " d" −20 · 280 " c" −21 · 288 "im" −29 · 289 "on" −30 · 290 "il" −31
 *   291 " The" −32 · 294 "at" −35 · 296 " sa" −37 · 307 " L" −48 · 310 "ily" −51 · 317 " Lily" −58
 *   318 " u" −59 · 319 " O" −60 · 321 " On" −62 · 326 " Tim" −67 · 331 "ce" −72 · 333 "ig" −74
 *   344 " e" −85 · 350 " up" −91 · 367 "end" −108 · 369 "ime" −110 · 370 " big" −111
 *   378 " time" −119 · 394 " saw" −135 · 400 " do" −141 · 403 " Once" −144 · 407 " upon" −148
 *   single characters: 410 " " · 417 "i" · 419 "s" · 426 "." · 428 "g" · 439 "'" · 443 "!"
 *   (score −151 and below, so they never beat a merge). No piece holds a space after its first
 *   byte except whitespace-only ones, so words never merge across a space.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needSharedFixtures, stories260K } from '../../../helpers/shared-fixtures.js';
import { tempDir } from '../loaders/temp-dir.js';
import { ModelError } from '../../../../shared/engine/decoder.js';
import { readLlama2cTokenizer } from '../../../../server/engine/tokenizers/llama2c.js';

const fixtures = stories260K;
const present = needSharedFixtures('the stories260K tokenizer tests', join(fixtures, 'tok512.bin'));

describe.skipIf(!present)('llama2.c tokenizer on stories260K tok512.bin', () => {
  const tok = () => readLlama2cTokenizer(join(fixtures, 'tok512.bin'));

  it('reads 512 tokens with <unk>, BOS, EOS and the byte tokens', () => {
    const t = tok();
    expect(t.vocabSize).toBe(512);
    expect([t.bosId, t.eosId]).toEqual([1, 2]);
    expect([0, 1, 2].map((id) => t.tokenString(id))).toEqual(['<unk>', '<s>', '</s>']);
    expect(t.tokenString(3 + 0x41)).toBe('A'); // <0x41>
    expect(t.tokenString(3 + 0xf0)).toBe('<0xF0>'); // not a character on its own
    expect(t.tokenString(403)).toBe(' Once');
  });

  it('encodes the empty prompt as BOS alone (no leading space)', () => {
    expect(tok().encode('')).toEqual([1]);
  });

  it('"Once upon a time" → [1, 403, 407, 261, 378]', () => {
    // " Once upon a time" as characters. Merges, best score first:
    //   " "+"t"→" t"(0), " "+"a"→" a"(−2), "i"+"m"→"im"(−29), "o"+"n"→"on"(−30),
    //   " "+"u"→" u"(−59), " "+"O"→" O"(−60), " O"+"n"→" On"(−62), "c"+"e"→"ce"(−72),
    //   " u"+"p"→" up"(−91), "im"+"e"→"ime"(−110), " t"+"ime"→" time"(−119),
    //   " On"+"ce"→" Once"(−144), " up"+"on"→" upon"(−148); " Once"+" upon" etc. are not tokens.
    expect(tok().encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
  });

  it('"Lily saw a big dog." → [1, 317, 394, 261, 370, 400, 428, 426]', () => {
    // " Lily": " L"(−48)… "i"+"l"→"il"(−31) first, then " "+"L"→" L"(−48), "il"+"y"→"ily"(−51),
    //   " L"+"ily"→" Lily"(−58).  " saw": " s"(−3), " s"+"a"→" sa"(−37), " sa"+"w"→" saw"(−135).
    // " big": " b"(−9), "i"+"g"→"ig"(−74), " b"+"ig"→" big"(−111).
    // " dog.": " d"(−20), " d"+"o"→" do"(−141); " dog", "og", "g." are not tokens → " do","g",".".
    expect(tok().encode('Lily saw a big dog.')).toEqual([1, 317, 394, 261, 370, 400, 428, 426]);
  });

  it('"The end!" merges greedily by score, not longest match: " e"+"nd", never " end"', () => {
    // "h"+"e"→"he"(−1), "n"+"d"→"nd"(−5), " T"(−15), " T"+"he"→" The"(−32); then the pairs
    // " "+"e"→" e"(−85) and "e"+"nd"→"end"(−108) compete: " e" wins, and " e"+"nd" is no token.
    expect(tok().encode('The end!')).toEqual([1, 291, 344, 264, 443]);
  });

  it('falls back to byte tokens for characters without a token ("hi 😀", "\\n")', () => {
    // " hi": " "+"h"→" h"(−11); "hi" and " hi" are not tokens → " h","i". " " alone is 410.
    // 😀 = F0 9F 98 80 in UTF-8, no token → ids 0xF0+3, 0x9F+3, 0x98+3, 0x80+3 = 243, 162, 155, 131.
    expect(tok().encode('hi 😀')).toEqual([1, 270, 417, 410, 243, 162, 155, 131]);
    // "Tim's cat\n": " T"+"im"→" Tim"(−67); "'" 439, "s" 419; " c"(−21) "at"(−35); "\n" = byte 0x0A → 13.
    expect(tok().encode("Tim's cat\n")).toEqual([1, 326, 439, 419, 280, 294, 13]);
  });

  it('decodes back: drops BOS and the leading space after it, reassembles byte tokens', () => {
    const t = tok();
    for (const text of ['Once upon a time', 'Lily saw a big dog.', 'The end!', 'hi 😀', "Tim's cat\n", 'héllo €5']) {
      expect(t.decode(t.encode(text))).toBe(text);
    }
    // Without BOS in front, a piece keeps its space.
    expect(t.decode([403, 407])).toBe(' Once upon');
  });
});

/** Writes a llama2.c tokenizer file: int32 max length, then (float32 score, int32 length, bytes). */
function writeTokenizer(path: string, pieces: Array<[string, number]>): void {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeInt32LE(Math.max(...pieces.map(([s]) => Buffer.byteLength(s))), 0);
  parts.push(head);
  for (const [text, score] of pieces) {
    const bytes = Buffer.from(text, 'utf8');
    const rec = Buffer.alloc(8);
    rec.writeFloatLE(score, 0);
    rec.writeInt32LE(bytes.length, 4);
    parts.push(rec, bytes);
  }
  writeFileSync(path, Buffer.concat(parts));
}

describe('llama2.c tokenizer on a tiny file written here', () => {
  const dir = tempDir('llama2c-tok-');
  const bytes: Array<[string, number]> = Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
  // ids: 0 <unk>, 1 BOS, 2 EOS, 3..258 bytes, 259 " ", 260 "a", 261 "b", 262 "ab", 263 " a",
  //      264 " ab", 265 "ba", 266 "x", 267 "xa"
  const pieces: Array<[string, number]> = [
    ['<unk>', 0], ['\n<s>\n', 0], ['\n</s>\n', 0], ...bytes,
    [' ', -10], ['a', -10], ['b', -10], ['ab', -1], [' a', -2], [' ab', -3], ['ba', -0.5], ['x', -10], ['xa', -1],
  ];
  const path = join(dir, 'tok.bin');
  writeTokenizer(path, pieces);

  it('merges the highest-scoring pair first, leftmost on ties', () => {
    const t = readLlama2cTokenizer(path);
    expect(t.vocabSize).toBe(268);
    // " ab": pairs " a"(−2), "ab"(−1) → "ab" first → [" ", "ab"] → " ab"(−3).
    expect(t.encode('ab')).toEqual([1, 264]);
    // " aba": pairs " a"(−2), "ab"(−1), "ba"(−0.5) → "ba" → [" ", "a", "ba"]: " a"(−2) → [" a", "ba"]
    // (" aba" is no token).
    expect(t.encode('aba')).toEqual([1, 263, 265]);
    // "bb": no merges; "c" has no token → byte 0x63 → id 102.
    expect(t.encode('bbc')).toEqual([1, 259, 261, 261, 0x63 + 3]);
    // " xab": "xa"(−1) and "ab"(−1) tie → the leftmost, "xa", merges → [" ", "xa", "b"].
    expect(t.encode('xab')).toEqual([1, 259, 267, 261]);
  });

  it('rejects a truncated file with a ModelError', () => {
    const bad = join(dir, 'bad.bin');
    writeTokenizer(bad, pieces);
    const full = readFileSync(bad);
    writeFileSync(bad, full.subarray(0, full.length - 2));
    expect(() => readLlama2cTokenizer(bad)).toThrow(ModelError);
    expect(() => readLlama2cTokenizer(bad)).toThrow(/token 267 has byte length 2/);
    expect(() => readLlama2cTokenizer(join(dir, 'absent.bin'))).toThrow(/not found/);
  });
});
