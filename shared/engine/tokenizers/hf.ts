/**
 * Hugging Face tokenizers through @huggingface/tokenizers (pure JS, reads tokenizer.json):
 *   - `tokenizer.json` (+ `tokenizer_config.json` when present, for BOS/EOS and add_bos_token);
 *   - GPT-2 style `vocab.json` + `merges.txt`, turned into the equivalent byte-level BPE
 *     tokenizer.json object in memory and run by the same library.
 * BOS: prepended when tokenizer_config says add_bos_token, or (when it says nothing) when the
 * tokenizer's own post-processor prepends it (Llama's TemplateProcessing does, GPT-2's does not).
 * Nothing is ever appended (no EOS after a prompt). Decoding drops special tokens.
 */
import { Tokenizer as LibraryTokenizer } from '@huggingface/tokenizers';
import { ModelError, type Tokenizer } from '../decoder.js';
import { readJsonObject, type ModelFiles } from '../files.js';
import { byteLevelTokenBytes, printableBytes } from './printable.js';

type JsonObject = Record<string, unknown>;

/** tokenizer_config.json names a token as a string or as an AddedToken object {content}. */
function tokenName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return null;
}

/** `tokenizer_config.json` beside the tokenizer, or {} when there is none. */
function configBeside(files: ModelFiles): JsonObject {
  return files.exists('tokenizer_config.json') ? readJsonObject(files, 'tokenizer_config.json') : {};
}

export interface HfTokenizerOptions {
  /** The model's config.json, a fallback source of bos/eos ids. */
  modelConfig?: JsonObject;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  private readonly library: LibraryTokenizer;
  private readonly cleanUpSpaces: boolean;
  /** Ids of added tokens (<s>, <|endoftext|>…), shown as their literal text. */
  private readonly addedIds: Set<number>;

  constructor(tokenizerJson: JsonObject, config: JsonObject, source: string, options: HfTokenizerOptions = {}) {
    try {
      this.library = new LibraryTokenizer({ added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...tokenizerJson }, config);
    } catch (error) {
      throw new ModelError(`${source}: cannot build the tokenizer (${(error as Error).message})`);
    }
    let maxId = -1;
    for (const id of this.library.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.addedIds = new Set(this.library.get_added_tokens_decoder().keys());
    // Decode text faithfully unless the config explicitly asks for the legacy " ," → "," clean-up.
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;

    const modelConfig = options.modelConfig ?? {};
    const idOf = (key: 'bos' | 'eos'): number | null => {
      const name = tokenName(config[`${key}_token`]);
      const fromName = name === null ? undefined : this.library.token_to_id(name);
      if (fromName !== undefined) return fromName;
      const fromModel = modelConfig[`${key}_token_id`];
      const id = Array.isArray(fromModel) ? fromModel[0] : fromModel;
      return typeof id === 'number' && Number.isInteger(id) ? id : null;
    };
    const prepended = this.prependedByPostProcessor();
    const addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : prepended !== null;
    this.bosId = addBos ? (idOf('bos') ?? prepended) : null;
    if (addBos && this.bosId === null) throw new ModelError(`${source}: add_bos_token is set but no BOS token is defined`);
    this.eosId = idOf('eos');
  }

  /** Reads `name` (default tokenizer.json) of a model's files, and `tokenizer_config.json`
   * beside it when present. */
  static fromTokenizerJson(files: ModelFiles, name = 'tokenizer.json', options: HfTokenizerOptions = {}): HfTokenizer {
    if (!files.exists(name)) throw new ModelError(`Tokenizer file not found: ${files.path(name)}`);
    return new HfTokenizer(readJsonObject(files, name), configBeside(files), files.path(name), options);
  }

  /** Builds a GPT-2 byte-level BPE tokenizer from `vocab.json` + `merges.txt` in `dir`. */
  static fromVocabAndMerges(files: ModelFiles, options: HfTokenizerOptions = {}): HfTokenizer {
    for (const name of ['vocab.json', 'merges.txt']) if (!files.exists(name)) throw new ModelError(`Tokenizer file not found: ${files.path(name)}`);
    const vocabPath = files.path('vocab.json');
    const vocab = readJsonObject(files, 'vocab.json') as Record<string, number>;
    const merges = files.text('merges.txt')
      .split('\n')
      .map((line) => line.replace(/\r$/, ''))
      .filter((line) => line.length > 0 && !line.startsWith('#version'));
    const config = configBeside(files);
    return new HfTokenizer(byteLevelBpeJson(vocab, merges, config), config, `${vocabPath} + merges.txt`, options);
  }

  encode(text: string): number[] {
    const { ids, tokens } = this.library.encode(text, { add_special_tokens: false });
    const unknown = ids.findIndex((id) => typeof id !== 'number');
    if (unknown >= 0) throw new ModelError(`the tokenizer has no token for ${JSON.stringify(tokens[unknown])} and no <unk> token`);
    return this.bosId === null ? ids : [this.bosId, ...ids];
  }

  decode(ids: number[]): string {
    // Ids past the tokenizer's vocabulary (models often pad theirs) have no text.
    const known = ids.filter((id) => id >= 0 && id < this.vocabSize);
    if (known.length === 0) return '';
    return this.library.decode(known, { skip_special_tokens: true, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  tokenString(id: number): string {
    const raw = this.library.id_to_token(id);
    if (raw === undefined) return '';
    if (this.addedIds.has(id)) return raw;
    const text = this.library.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    if (text.includes('\uFFFD')) {
      // Part of a multi-byte character: write the bytes the decoder could not print.
      const bytes = byteLevelTokenBytes(raw);
      if (bytes) return printableBytes(bytes);
      if (/^<0x[0-9A-Fa-f]{2}>$/.test(raw)) return raw; // sentencepiece byte fallback
    }
    // Sentencepiece decoders strip the word-start space of a sequence's first token; keep it here.
    return raw.startsWith('▁') && !text.startsWith(' ') ? ` ${text}` : text;
  }

  /** The token the library's post-processor puts before the text, if any (e.g. Llama's <s>). */
  private prependedByPostProcessor(): number | null {
    const plain = this.library.encode('a', { add_special_tokens: false }).ids;
    const special = this.library.encode('a', { add_special_tokens: true }).ids;
    return special.length > plain.length && special[0] !== plain[0] ? special[0]! : null;
  }
}

/** The tokenizer.json that GPT-2's vocab.json + merges.txt stand for (as transformers converts it). */
function byteLevelBpeJson(vocab: Record<string, number>, merges: string[], config: JsonObject): JsonObject {
  const specialNames = new Set<string>();
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const name = tokenName(config[key]);
    if (name !== null) specialNames.add(name);
  }
  if ('<|endoftext|>' in vocab) specialNames.add('<|endoftext|>');
  const added = [...specialNames]
    .filter((name) => name in vocab)
    .map((name) => ({ id: vocab[name], content: name, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
}
