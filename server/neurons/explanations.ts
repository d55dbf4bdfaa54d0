/**
 * Natural-language explanations of neurons, imported from files and kept per model beside its
 * index (`explanations.json`, a separate file: re-importing never touches the index).
 *
 * Accepted input:
 *   - OpenAI's automated-interpretability results: one NeuronSimulationResults JSON object per
 *     line (`explanations/{layer}/{neuron}.jsonl`), as a single .jsonl/.json file, many lines
 *     concatenated, or that directory tree (read recursively, in name order):
 *       {"neuron_id": {"layer_index": L, "neuron_index": I},
 *        "scored_explanations": [{"explanation": "...", "scored_simulation": {"ev_correlation_score": 0.43}}]}
 *     ("dataclass_name" and any other fields are ignored);
 *   - CSV with a header row naming layer, neuron, explanation and (optionally) score, RFC 4180
 *     quoting (fields with commas, quotes "" and newlines).
 *   - transcoder features, Neuronpedia-style (its explanation exports): JSON objects, one per line or in an
 *     array, {"layer": "1-brown-transcoders" | 1, "index": "123" | 123, "description": "...", "score"?: 0.5}
 *     (the layer string is `{layer}-{source set}`; the set's name goes into the explanation's source),
 *     or a CSV whose header names a `feature` column instead of `neuron`.
 * The best-scored explanation per neuron is kept (an unscored one only when nothing is scored).
 * A re-import replaces the neurons it covers and keeps the others. Malformed input fails with the
 * file and line.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ModelError } from '../../shared/engine/decoder.js';
import type { NeuronExplanation } from '../../shared/neuron-index.js';
import { writeFileAtomic } from './atomic-file.js';

export interface ImportedExplanation extends NeuronExplanation {
  layer: number;
  index: number;
  /** A transcoder feature's (index: the feature within the layer) rather than a neuron's. */
  feature?: boolean;
}

/** `nFeatures`: features of the loaded transcoders, per layer or the same for all, when known
 * (else only ≥ 0 is checked). */
type Shape = { nLayers: number; dMlp: number; nFeatures?: number | number[] };
const keyOf = (e: { layer: number; index: number; feature?: boolean }) => `${e.feature ? 'f' : 'n'}:${e.layer}:${e.index}`;

function checkFeature(layer: unknown, index: unknown, shape: Shape, where: string): { layer: number; index: number } {
  if (!Number.isInteger(layer) || !Number.isInteger(index)) throw new ModelError(`${where}: layer and feature must be integers, got ${JSON.stringify(layer)} and ${JSON.stringify(index)}`);
  const l = layer as number;
  const i = index as number;
  if (l < 0 || l >= shape.nLayers) throw new ModelError(`${where}: layer ${l} is out of range (the model has ${shape.nLayers} layers, 0..${shape.nLayers - 1})`);
  const F = Array.isArray(shape.nFeatures) ? shape.nFeatures[l] : shape.nFeatures;
  if (Array.isArray(shape.nFeatures) && F === undefined) throw new ModelError(`${where}: layer ${l} has no transcoder (the set covers layers 0..${shape.nFeatures.length - 1})`);
  if (i < 0 || (F !== undefined && i >= F)) throw new ModelError(`${where}: feature ${i} is out of range${F !== undefined ? ` (the transcoders have ${F} features in layer ${l}, 0..${F - 1})` : ''}`);
  return { layer: l, index: i };
}

/** A Neuronpedia-style feature explanation: {layer: "{l}-{set}" or l, index, description, score?}. */
function fromNeuronpedia(record: Record<string, unknown>, shape: Shape, where: string, source: string): ImportedExplanation {
  const integer = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
  let layer = record.layer;
  let set: string | null = null;
  if (typeof layer === 'string') {
    const match = /^(\d+)(?:-(.+))?$/.exec(layer);
    if (!match) throw new ModelError(`${where}: "layer" must be a layer number or "{layer}-{source set}" (Neuronpedia), got ${JSON.stringify(layer)}`);
    layer = Number(match[1]);
    set = match[2] ?? null;
  }
  const { layer: l, index } = checkFeature(layer, integer(record.index), shape, where);
  const text = record.description ?? record.explanation;
  if (typeof text !== 'string') throw new ModelError(`${where}: "description" must be a string`);
  const raw = record.score;
  if (raw !== undefined && raw !== null && typeof raw !== 'number') throw new ModelError(`${where}: "score" must be a number or null`);
  const score = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  return { layer: l, index, feature: true, text: text.trim(), score, source: set ? `${source} (${set})` : source };
}
const rank = (score: number | null) => (score === null ? -Infinity : score);

/** Keeps the better of two explanations of one neuron (the first on a tie). */
function keepBest(into: Map<string, ImportedExplanation>, e: ImportedExplanation): void {
  const key = keyOf(e);
  const old = into.get(key);
  if (!old || rank(e.score) > rank(old.score)) into.set(key, e);
}

function checkNeuron(layer: unknown, index: unknown, shape: Shape, where: string): { layer: number; index: number } {
  if (!Number.isInteger(layer) || !Number.isInteger(index)) throw new ModelError(`${where}: layer and neuron must be integers, got ${JSON.stringify(layer)} and ${JSON.stringify(index)}`);
  const l = layer as number;
  const i = index as number;
  if (l < 0 || l >= shape.nLayers) throw new ModelError(`${where}: layer ${l} is out of range (the model has ${shape.nLayers} layers, 0..${shape.nLayers - 1})`);
  if (i < 0 || i >= shape.dMlp) throw new ModelError(`${where}: neuron ${i} is out of range (layers have ${shape.dMlp} neurons, 0..${shape.dMlp - 1})`);
  return { layer: l, index: i };
}

/** One NeuronSimulationResults object → its best explanation. */
function fromOpenAi(value: unknown, shape: Shape, where: string, source: string): ImportedExplanation {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ModelError(`${where}: expected a JSON object (NeuronSimulationResults)`);
  if (!('neuron_id' in value) && 'index' in value && ('description' in value || 'explanation' in value)) return fromNeuronpedia(value as Record<string, unknown>, shape, where, source);
  const record = value as { neuron_id?: { layer_index?: unknown; neuron_index?: unknown }; scored_explanations?: unknown };
  if (!record.neuron_id || typeof record.neuron_id !== 'object') throw new ModelError(`${where}: missing "neuron_id" {layer_index, neuron_index}`);
  const { layer, index } = checkNeuron(record.neuron_id.layer_index, record.neuron_id.neuron_index, shape, where);
  if (!Array.isArray(record.scored_explanations) || record.scored_explanations.length === 0) {
    throw new ModelError(`${where}: "scored_explanations" must be a non-empty array`);
  }
  let best: ImportedExplanation | null = null;
  record.scored_explanations.forEach((item: unknown, k) => {
    const scored = item as { explanation?: unknown; scored_simulation?: { ev_correlation_score?: unknown } | null };
    if (!scored || typeof scored.explanation !== 'string') throw new ModelError(`${where}: scored_explanations[${k}].explanation must be a string`);
    const raw = scored.scored_simulation?.ev_correlation_score;
    if (raw !== undefined && raw !== null && typeof raw !== 'number') throw new ModelError(`${where}: scored_explanations[${k}].scored_simulation.ev_correlation_score must be a number or null`);
    const score = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
    const candidate = { layer, index, text: scored.explanation.trim(), score, source };
    if (!best || rank(score) > rank(best.score)) best = candidate;
  });
  return best!;
}

function readOpenAiFile(path: string, source: string, shape: Shape, into: Map<string, ImportedExplanation>): void {
  const text = readFileSync(path, 'utf8');
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined; // not one JSON document: one object per line
  }
  if (whole !== undefined) {
    const items = Array.isArray(whole) ? whole : [whole];
    items.forEach((item, k) => keepBest(into, fromOpenAi(item, shape, Array.isArray(whole) ? `${path} [${k}]` : path, source)));
    return;
  }
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new ModelError(`${where}: not valid JSON (${(error as Error).message})`);
    }
    keepBest(into, fromOpenAi(value, shape, where, source));
  });
}

/** RFC 4180 records, each with the line it starts on. */
export function parseCsv(text: string, path: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let fieldStarted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else { if (c === '\n') line++; field += c; }
      continue;
    }
    if (c === '"') {
      if (field !== '') throw new ModelError(`${path}:${line}: a quote inside an unquoted field (quote the whole field and double its quotes)`);
      quoted = true;
      fieldStarted = true;
    } else if (c === ',') {
      fields.push(field); field = ''; fieldStarted = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (fieldStarted || field !== '' || fields.length > 0) records.push({ line: start, fields: [...fields, field] });
      fields = []; field = ''; fieldStarted = false;
      line++;
      start = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) throw new ModelError(`${path}:${start}: a quoted field is not closed`);
  if (fieldStarted || field !== '' || fields.length > 0) records.push({ line: start, fields: [...fields, field] });
  return records;
}

function readCsvFile(path: string, source: string, shape: Shape, into: Map<string, ImportedExplanation>): void {
  const records = parseCsv(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''), path);
  if (records.length === 0) throw new ModelError(`${path}: empty (expected a header row layer,neuron,explanation,score)`);
  const header = records[0]!.fields.map((f) => f.trim().toLowerCase());
  const column = (name: string) => header.indexOf(name);
  const feature = column('neuron') < 0 && column('feature') >= 0;
  const [layerAt, neuronAt, textAt, scoreAt] = [column('layer'), column(feature ? 'feature' : 'neuron'), column('explanation'), column('score')];
  if (layerAt < 0 || neuronAt < 0 || textAt < 0) throw new ModelError(`${path}:1: the header must name the columns layer, neuron, explanation (and optionally score), or layer, feature, explanation for transcoder features; got ${header.join(',')}`);
  for (const { line, fields } of records.slice(1)) {
    const where = `${path}:${line}`;
    if (fields.length !== header.length) throw new ModelError(`${where}: ${fields.length} fields, the header has ${header.length}`);
    const integer = (s: string) => (/^\s*\d+\s*$/.test(s) ? Number(s) : s);
    const { layer, index } = (feature ? checkFeature : checkNeuron)(integer(fields[layerAt]!), integer(fields[neuronAt]!), shape, where);
    const rawScore = scoreAt >= 0 ? fields[scoreAt]!.trim() : '';
    const score = rawScore === '' ? null : Number(rawScore);
    if (score !== null && !Number.isFinite(score)) throw new ModelError(`${where}: score "${rawScore}" is not a number`);
    keepBest(into, { layer, index, ...(feature ? { feature: true } : {}), text: fields[textAt]!.trim(), score, source });
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return /\.(jsonl|json|csv)$/.test(name) ? [path] : [];
  });
}

/** Reads a file or a directory tree of explanations for a model of this shape. */
export function readExplanations(path: string, shape: Shape): { explanations: ImportedExplanation[]; files: number } {
  if (!existsSync(path)) throw new ModelError(`Explanations path not found: ${path}`);
  const isDir = statSync(path).isDirectory();
  const files = isDir ? filesUnder(path) : [path];
  if (files.length === 0) throw new ModelError(`${path}: no .jsonl, .json or .csv files in this folder`);
  const found = new Map<string, ImportedExplanation>();
  for (const file of files) {
    const source = isDir ? join(basename(path), relative(path, file)) : basename(file);
    if (file.endsWith('.csv')) readCsvFile(file, source, shape, found);
    else if (/\.jsonl?$/.test(file)) readOpenAiFile(file, source, shape, found);
    else throw new ModelError(`${file}: explanations are .jsonl/.json (OpenAI's format) or .csv files`);
  }
  const explanations = [...found.values()].sort((a, b) => a.layer - b.layer || a.index - b.index);
  return { explanations, files: files.length };
}

/** A model's explanations file; re-read when it changes on disk (a CLI import while serving). */
export class ExplanationStore {
  private entries = new Map<string, NeuronExplanation>();
  private loadedStamp = '';
  /** Why the file could not be read, when it could not (then nothing is shown or overwritten). */
  private unreadable: string | null = null;

  constructor(readonly path: string) {}

  private refresh(): void {
    const stamp = existsSync(this.path) ? `${statSync(this.path).mtimeMs}:${statSync(this.path).size}` : '';
    if (stamp === this.loadedStamp) return;
    this.loadedStamp = stamp;
    this.entries = new Map();
    this.unreadable = null;
    if (!stamp) return;
    try {
      type Row = [number, number, string, number | null, string];
      const file = JSON.parse(readFileSync(this.path, 'utf8')) as { explanations: Row[]; features?: Row[] };
      for (const [layer, index, text, score, source] of file.explanations) this.entries.set(keyOf({ layer, index }), { text, score, source });
      for (const [layer, index, text, score, source] of file.features ?? []) this.entries.set(keyOf({ layer, index, feature: true }), { text, score, source });
    } catch (error) {
      this.entries = new Map(); // nothing shown; import() refuses rather than overwrite what is there
      this.unreadable = (error as Error).message;
    }
  }

  get(layer: number, index: number): NeuronExplanation | null {
    this.refresh();
    return this.entries.get(keyOf({ layer, index })) ?? null;
  }

  /** A transcoder feature's imported explanation (feature `index` of `layer`). */
  getFeature(layer: number, index: number): NeuronExplanation | null {
    this.refresh();
    return this.entries.get(keyOf({ layer, index, feature: true })) ?? null;
  }

  get size(): number {
    this.refresh();
    return this.entries.size;
  }

  /** Adds (replacing) these neurons' explanations and rewrites the file atomically. */
  import(explanations: ImportedExplanation[]): number {
    this.refresh();
    if (this.unreadable !== null) {
      throw new ModelError(`${this.path} holds earlier explanations but cannot be read (${this.unreadable}); nothing was imported. `
        + 'Repair the file, or move it away to start afresh.');
    }
    for (const e of explanations) this.entries.set(keyOf(e), { text: e.text, score: e.score, source: e.source });
    const rows = (kind: string) => [...this.entries].filter(([key]) => key.startsWith(`${kind}:`)).map(([key, e]) => {
      const [layer, index] = key.slice(2).split(':').map(Number) as [number, number];
      return [layer, index, e.text, e.score, e.source] as const;
    }).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const features = rows('f');
    // Neuron rows exactly as before; feature rows in their own array (older readers ignore it).
    writeFileAtomic(this.path, JSON.stringify({ version: 1, explanations: rows('n'), ...(features.length > 0 ? { features } : {}) }));
    this.loadedStamp = '';
    return this.size;
  }
}
