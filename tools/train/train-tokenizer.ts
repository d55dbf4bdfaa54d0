/**
 * Trains the byte-level BPE on the training split, saves it as a Hugging Face tokenizer.json
 * (GPT-2 shaped: ByteLevel pre-tokeniser and decoder, BPE model, `<|endoftext|>` special),
 * checks that @huggingface/tokenizers encodes exactly as this trainer does, and writes the
 * token streams for training (uint16, documents separated by <|endoftext|>).
 *
 * Run: npx tsx tools/train/train-tokenizer.ts [--vocab 4096]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BpeEncoder, byteString, PRETOKEN, trainBpe } from './bpe.js';

const root = new URL('../../', import.meta.url).pathname;
const work = join(root, 'tools/train/work');
const modelDir = join(root, 'assets/models/brown-gpt2');
const vocabSize = Number(process.argv[process.argv.indexOf('--vocab') + 1] || 4096) || 4096;
const endOfText = '<|endoftext|>';

const readDocs = (name: string) => readFileSync(join(work, name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string);
const train = readDocs('train.jsonl');
const val = readDocs('val.jsonl');

const t0 = performance.now();
const counts = new Map<string, number>();
for (const doc of train) for (const m of doc.matchAll(PRETOKEN)) { const w = byteString(m[0]); counts.set(w, (counts.get(w) ?? 0) + 1); }
console.log(`${counts.size} distinct pre-tokens`);
const model = trainBpe(counts, vocabSize - 256 - 1, (m) => process.stdout.write(`\rmerges ${m}`));
const eotId = model.vocab.size;
console.log(`\n${model.merges.length} merges, vocabulary ${eotId + 1}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const tokenizerJson = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [{ id: eotId, content: endOfText, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
    fuse_unk: false, byte_fallback: false,
    vocab: Object.fromEntries(model.vocab),
    merges: model.merges.map(([a, b]) => `${a} ${b}`),
  },
};
const tokenizerConfig = { clean_up_tokenization_spaces: false, bos_token: endOfText, eos_token: endOfText, unk_token: endOfText, add_bos_token: false, add_prefix_space: false, model_max_length: 256, tokenizer_class: 'GPT2Tokenizer' };
mkdirSync(modelDir, { recursive: true });
writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));

// The library that the engine uses must agree with the trainer, and round-trip any text.
const library = new Tokenizer(tokenizerJson as never, tokenizerConfig as never);
const ours = new BpeEncoder(model);
const samples = [...val.slice(0, 200), 'Héllo wörld — naïve café ☕ 😀 日本語のテキスト\n\ttabs  and   spaces', "It's 3.14 o'clock!"];
for (const text of samples) {
  const a = ours.encode(text);
  const b = library.encode(text, { add_special_tokens: false }).ids;
  if (a.join() !== b.join()) throw new Error(`library and trainer disagree on ${JSON.stringify(text.slice(0, 80))}: ${a.slice(0, 10)} vs ${b.slice(0, 10)}`);
  const back = library.decode(b, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  if (back !== text) throw new Error(`round trip failed: ${JSON.stringify(text.slice(0, 80))} → ${JSON.stringify(back.slice(0, 80))}`);
}
console.log(`library agrees with the trainer on ${samples.length} texts, and they round-trip`);

const stream = (docs: string[]) => {
  const ids: number[] = [];
  for (const doc of docs) ids.push(...ours.encode(doc), eotId);
  return Uint16Array.from(ids);
};
for (const [name, docs] of [['train', train], ['val', val]] as const) {
  const ids = stream(docs);
  writeFileSync(join(work, `${name}.u16`), ids);
  console.log(`${name}: ${ids.length} tokens`);
}
