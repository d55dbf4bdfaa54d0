/** Tokens that hold part of a UTF-8 character print their bytes, never U+FFFD. */
import { describe, expect, it } from 'vitest';
import { byteLevelTokenBytes, printableBytes } from '../../../../shared/engine/tokenizers/printable.js';
import { Gpt2BuiltinTokenizer } from '../../../../shared/engine/tokenizers/gpt2-builtin.js';
import { loadModel } from '../../../../server/engine/load.js';

describe('printable tokens', () => {
  it('decodes valid UTF-8 and writes other bytes as <0xNN>', () => {
    expect(printableBytes(new TextEncoder().encode('café — 😀'))).toBe('café — 😀');
    expect(printableBytes(Uint8Array.of(0xe2, 0x80))).toBe('<0xE2><0x80>');
    expect(printableBytes(Uint8Array.of(0x63, 0x61, 0x66, 0xc3))).toBe('caf<0xC3>');
    expect(printableBytes(Uint8Array.of(0x94, 0x20, 0x61))).toBe('<0x94> a');
    expect(printableBytes(Uint8Array.of(0xc0, 0x80))).toBe('<0xC0><0x80>'); // overlong NUL
  });

  it('maps GPT-2 byte-level characters back to bytes', () => {
    expect([...byteLevelTokenBytes('Ġthe')!]).toEqual([0x20, 0x74, 0x68, 0x65]);
    expect([...byteLevelTokenBytes('âĢ')!]).toEqual([0xe2, 0x80]);
    expect(byteLevelTokenBytes('▁the')).toBeNull();
  });

  it('the built-in GPT-2 BPE prints partial characters as bytes', () => {
    const tokenizer = new Gpt2BuiltinTokenizer();
    const ids = tokenizer.encode('😀');
    expect(ids.length).toBeGreaterThan(1); // the emoji's four bytes span two tokens
    const printed = ids.map((id) => tokenizer.tokenString(id));
    expect(printed.join('')).toBe('<0xF0><0x9F><0x98><0x80>');
    expect(printed.some((t) => t.includes('\uFFFD'))).toBe(false);
  });

  it('no token of the bundled model prints as U+FFFD', async () => {
    const { tokenizer } = await loadModel(new URL('../../../../assets/models/brown-gpt2/', import.meta.url).pathname);
    const printed = Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.tokenString(id));
    expect(printed.filter((t) => t.includes('\uFFFD'))).toEqual([]);
    expect(printed.filter((t) => /<0x[0-9A-F]{2}>/.test(t)).length).toBeGreaterThan(0);
  });
});
