/**
 * How tokens read on screen. Tokens print with a leading space as "·" and newlines as "↵";
 * byte-fallback pieces of multi-byte characters (the server writes those bytes as `<0xE7>`)
 * are joined with their neighbours and shown as the character they form, the bytes kept for a
 * hover title. Pure functions, no DOM.
 */
import type { TokenInfo } from '../../shared/protocol.js';

export interface TokenDisplay {
  /** What to show. */
  text: string;
  /** For the hover title: the token's bytes when it had byte pieces, else its raw text. */
  title: string;
  /** The token holds only part of a character (shown whole, marked as partial). */
  partial: boolean;
}

const bytePiece = /<0x([0-9A-Fa-f]{2})>/g;
const encoder = new TextEncoder();

export function displayToken(text: string): string {
  return text.replace(/\n/g, '↵').replace(/^ /, '·');
}

/** Bytes of a printable token text: `<0xNN>` pieces as bytes, the rest as UTF-8. */
function tokenBytes(text: string): number[] {
  const bytes: number[] = [];
  let at = 0;
  for (const match of text.matchAll(bytePiece)) {
    bytes.push(...encoder.encode(text.slice(at, match.index)));
    bytes.push(parseInt(match[1]!, 16));
    at = match.index! + match[0].length;
  }
  bytes.push(...encoder.encode(text.slice(at)));
  return bytes;
}

/** Length of the UTF-8 sequence a lead byte starts (0 for a continuation or invalid byte). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');

/**
 * Display texts for a run of tokens. A character whose bytes span several tokens is shown on
 * each of them (they are marked partial); bytes that form no character stay as `<0xNN>`.
 */
export function displayTokens(tokens: readonly Pick<TokenInfo, 'text'>[]): TokenDisplay[] {
  const out: TokenDisplay[] = tokens.map((t) => ({ text: displayToken(t.text), title: t.text, partial: false }));
  const hasBytes = tokens.map((t) => /<0x[0-9A-Fa-f]{2}>/.test(t.text));
  if (!hasBytes.some(Boolean)) return out;
  // One byte stream over the tokens, each byte tagged with its token.
  const bytes: number[] = [];
  const owner: number[] = [];
  tokens.forEach((t, i) => {
    for (const b of tokenBytes(t.text)) {
      bytes.push(b);
      owner.push(i);
    }
  });
  const shown: string[] = tokens.map(() => '');
  const partial: boolean[] = tokens.map(() => false);
  for (let at = 0; at < bytes.length;) {
    const length = sequenceLength(bytes[at]!);
    let char: string | null = null;
    if (length > 0 && at + length <= bytes.length) {
      try {
        char = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes.slice(at, at + length)));
      } catch {
        char = null;
      }
    }
    if (char === null) {
      shown[owner[at]!] += `<0x${hex(bytes[at]!)}>`;
      at++;
      continue;
    }
    const owners = new Set(owner.slice(at, at + length));
    for (const i of owners) {
      // The character goes on the token where it starts; the others show it as a continuation.
      if (i === owner[at]) shown[i] += char;
      else if (!shown[i]!.endsWith(char)) shown[i] += char;
      if (owners.size > 1) partial[i] = true;
    }
    at += length;
  }
  return out.map((display, i) => {
    if (!hasBytes[i]) return display;
    const own = tokenBytes(tokens[i]!.text).map(hex).join(' ');
    return { text: displayToken(shown[i]!), title: `bytes ${own}`, partial: partial[i]! };
  });
}
