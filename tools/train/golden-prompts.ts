/**
 * Encodes the fixed prompts with the bundled tokenizer.json through @huggingface/tokenizers (the
 * library the engine's tokenizer path uses), so golden.py and evaluate.py work on exactly these
 * ids. Writes tools/train/work/golden-prompts.json.
 * Run: npx tsx tools/train/golden-prompts.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

/** The three golden prompts (logits and hooks of the PyTorch model are stored for these). */
export const goldenPrompts = [
  'The jury said that the city had been charged with',
  'She opened the door and saw a small dog sitting on the',
  'In 1961 the president of the United States',
];

/** Everyday prompts for the model card's greedy and sampled continuations. */
export const everydayPrompts = [
  'The weather today is',
  'My favourite food is',
  'When I got home from work',
  'The children played in the',
  'She picked up the phone and',
  'The government announced that',
  'After dinner we',
  'The old man walked down the',
  'I think the best way to',
  'On Sunday morning the church',
];

const root = new URL('../../', import.meta.url).pathname;
const modelDir = join(root, 'assets/models/brown-gpt2');
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(join(modelDir, 'tokenizer.json'), 'utf8')),
  JSON.parse(readFileSync(join(modelDir, 'tokenizer_config.json'), 'utf8')),
);
const encode = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).ids;
const tokens = goldenPrompts.map(encode);
writeFileSync(
  join(root, 'tools/train/work/golden-prompts.json'),
  JSON.stringify({ prompts: goldenPrompts, tokens, everyday: everydayPrompts, everydayTokens: everydayPrompts.map(encode) }, null, 2),
);
console.log('golden prompt lengths', tokens.map((t) => t.length));
