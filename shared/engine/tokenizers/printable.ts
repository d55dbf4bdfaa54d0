/**
 * One token as printable text. A byte-level BPE token may hold part of a multi-byte UTF-8
 * character (GPT-2's 'âĢ' is the first two bytes of '—'); decoding it alone gives U+FFFD, which
 * says nothing. Here valid UTF-8 sequences decode as usual and every other byte is written
 * `<0xE2>`, the notation sentencepiece uses for its byte tokens.
 */

const hex = (byte: number) => `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;

/** Length of the valid UTF-8 sequence starting at bytes[i], or 0 when there is none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i]!;
  const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
  if (length === 0 || i + length > bytes.length) return 0;
  for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return 0;
  return length;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function printableBytes(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const length = sequenceLength(bytes, i);
    if (length === 0) {
      out += hex(bytes[i]!);
      i++;
      continue;
    }
    try {
      out += utf8.decode(bytes.subarray(i, i + length));
    } catch {
      out += Array.from(bytes.subarray(i, i + length), hex).join(''); // overlong or surrogate forms
    }
    i += length;
  }
  return out;
}

/** GPT-2's reversible map from bytes to printable characters (bytes_to_unicode). */
export function bytesToUnicode(): string[] {
  const direct = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const map: string[] = new Array(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(direct(b) ? b : 256 + shifted++);
  return map;
}

/** That map inverted: the characters of a byte-level BPE token → its bytes. */
let unicodeToByte: Map<string, number> | null = null;

export function byteLevelTokenBytes(token: string): Uint8Array | null {
  unicodeToByte ??= new Map(bytesToUnicode().map((char, byte) => [char, byte]));
  const bytes: number[] = [];
  for (const char of token) {
    const byte = unicodeToByte.get(char);
    if (byte === undefined) return null; // not a byte-level token
    bytes.push(byte);
  }
  return Uint8Array.from(bytes);
}
