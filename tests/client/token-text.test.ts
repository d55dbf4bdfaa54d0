/**
 * Token display: byte-fallback pieces shown as the characters they form. The tokens come from
 * the bundled model's real tokenizer (its printable token strings, as the server sends them),
 * so the `<0xNN>` pieces are the real ones; the reference is the original text.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../server/engine/load.js';
import { displayToken, displayTokens } from '../../client/state/token-text.js';

const dir = fileURLToPath(new URL('../../assets/models/brown-gpt2/', import.meta.url));

/** Undo the on-screen marks and join a character shown on several tokens once. */
function rejoin(shown: { text: string; partial: boolean }[]): string {
  let out = '';
  let previous: { text: string; partial: boolean } | null = null;
  for (const s of shown) {
    const text = s.text.replace(/^·/, ' ').replace(/↵/g, '\n');
    if (s.partial && previous?.partial && out.endsWith(text)) continue;
    out += text;
    previous = s;
  }
  return out;
}

describe('token display', () => {
  it('marks a leading space and newlines', () => {
    expect(displayToken(' the')).toBe('·the');
    expect(displayToken('a\nb')).toBe('a↵b');
  });

  it('shows three byte tokens of one character as that character, bytes on hover', () => {
    const shown = displayTokens([{ text: 'x' }, { text: '<0xE4>' }, { text: '<0xB8>' }, { text: '<0xAD>' }, { text: ' y' }]);
    expect(shown.map((s) => s.text)).toEqual(['x', '中', '中', '中', '·y']);
    expect(shown.map((s) => s.partial)).toEqual([false, true, true, true, false]);
    expect(shown[1]!.title).toBe('bytes E4');
    expect(shown[3]!.title).toBe('bytes AD');
  });

  it('keeps bytes that form no character as bytes', () => {
    const shown = displayTokens([{ text: '<0xE4>' }, { text: 'a' }]);
    expect(shown[0]!.text).toBe('<0xE4>');
  });

  it('reconstructs multi-byte text tokenized by the bundled model', async () => {
    const { tokenizer } = await loadModel(dir);
    for (const text of ['Grüße aus 東京 🙂 and ça va', '中文字符', 'naïve café — “quotes”']) {
      const tokens = tokenizer.encode(text).map((id: number) => ({ text: tokenizer.tokenString(id) }));
      // The tokenizer really splits some characters into byte pieces here.
      if (text === '中文字符') expect(tokens.some((t: { text: string }) => t.text.includes('<0x'))).toBe(true);
      const shown = displayTokens(tokens);
      expect(shown.some((s) => s.text.includes('<0x'))).toBe(false);
      expect(rejoin(shown)).toBe(text);
    }
  });
});
