/**
 * Explanation import: OpenAI's automated-interpretability JSONL (a directory tree, a single
 * pretty-printed .json, concatenated lines) and CSV with RFC 4180 quoting; the best-scored
 * explanation per neuron wins; the per-model file is rewritten atomically and merges re-imports;
 * malformed input fails naming the file and line.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExplanationStore, parseCsv, readExplanations } from '../../../server/neurons/explanations.js';
import { tempDir } from './fixtures.js';

const shape = { nLayers: 4, dMlp: 1024 };

/** One NeuronSimulationResults line, as OpenAI publishes them (dataclass names and extra fields). */
function openAiLine(layer: number, neuron: number, explanations: [string, number | null][]): string {
  return JSON.stringify({
    dataclass_name: 'NeuronSimulationResults',
    neuron_id: { dataclass_name: 'NeuronId', layer_index: layer, neuron_index: neuron },
    scored_explanations: explanations.map(([explanation, score]) => ({
      dataclass_name: 'ScoredExplanation', explanation,
      scored_simulation: { dataclass_name: 'ScoredSimulation', ev_correlation_score: score, rsquared_score: 0.1, scored_sequence_simulations: [] },
    })),
  });
}

describe('explanation import', () => {
  it('reads OpenAI\'s explanations/{layer}/{neuron}.jsonl tree and keeps the best-scored explanation', () => {
    const dir = join(tempDir('openai'), 'explanations');
    for (const [layer, neuron, items] of [
      [0, 5, [[' the word "the"', 0.31], [' definite articles', 0.52]]],
      [2, 100, [[' numbers in dates', null]]],
      [3, 1023, [[' closing quotes', 0.05], [' quotes', Number.NaN]]],
    ] as [number, number, [string, number | null][]][]) {
      mkdirSync(join(dir, String(layer)), { recursive: true });
      writeFileSync(join(dir, String(layer), `${neuron}.jsonl`), `${openAiLine(layer, neuron, items)}\n`);
    }
    const { explanations, files } = readExplanations(dir, shape);
    expect(files).toBe(3);
    expect(explanations).toEqual([
      { layer: 0, index: 5, text: 'definite articles', score: 0.52, source: 'explanations/0/5.jsonl' },
      { layer: 2, index: 100, text: 'numbers in dates', score: null, source: 'explanations/2/100.jsonl' },
      { layer: 3, index: 1023, text: 'closing quotes', score: 0.05, source: 'explanations/3/1023.jsonl' },
    ]);
  });

  it('reads a concatenation of lines and a single pretty-printed .json file', () => {
    const dir = tempDir('openai-files');
    const lines = join(dir, 'all.jsonl');
    writeFileSync(lines, [openAiLine(1, 1, [['a', 0.1]]), '', openAiLine(1, 2, [['b', 0.2]]), openAiLine(1, 1, [['better a', 0.4]])].join('\n'));
    expect(readExplanations(lines, shape).explanations.map((e) => [e.index, e.text])).toEqual([[1, 'better a'], [2, 'b']]);
    const single = join(dir, 'one.json');
    writeFileSync(single, JSON.stringify(JSON.parse(openAiLine(3, 9, [['pretty', 0.3]])), null, 2));
    expect(readExplanations(single, shape).explanations).toEqual([{ layer: 3, index: 9, text: 'pretty', score: 0.3, source: 'one.json' }]);
  });

  it('reads CSV with quoted commas, doubled quotes and newlines, in any column order', () => {
    const path = join(tempDir('csv'), 'explanations.csv');
    writeFileSync(path, 'score,layer,neuron,explanation\r\n0.5,0,1,"commas, inside"\r\n,1,2,"he said ""hi""\nover two lines"\n0.9,0,1,plain\n');
    expect(readExplanations(path, shape).explanations).toEqual([
      { layer: 0, index: 1, text: 'plain', score: 0.9, source: 'explanations.csv' },
      { layer: 1, index: 2, text: 'he said "hi"\nover two lines', score: null, source: 'explanations.csv' },
    ]);
    expect(parseCsv('a,b\n"x\ny",z\nlast,', 'f.csv')).toEqual([
      { line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['x\ny', 'z'] }, { line: 4, fields: ['last', ''] },
    ]);
  });

  it('fails on malformed input with the file and line', () => {
    const dir = tempDir('bad');
    const cases: [string, string, RegExp][] = [
      ['bad.jsonl', `${openAiLine(0, 0, [['ok', 0.1]])}\n{not json`, /bad\.jsonl:2: not valid JSON/],
      ['range.jsonl', openAiLine(4, 0, [['x', 0.1]]), /range\.jsonl.*layer 4 is out of range \(the model has 4 layers/],
      ['neuron.jsonl', openAiLine(0, 1024, [['x', 0.1]]), /neuron 1024 is out of range/],
      ['shape.jsonl', JSON.stringify({ neuron_id: { layer_index: 0, neuron_index: 0 }, scored_explanations: [] }), /"scored_explanations" must be a non-empty array/],
      ['header.csv', 'layer,index,text\n0,0,x\n', /header\.csv:1: the header must name the columns layer, neuron, explanation/],
      ['fields.csv', 'layer,neuron,explanation,score\n0,0,x,0.1\n0,1,y\n', /fields\.csv:3: 3 fields, the header has 4/],
      ['quote.csv', 'layer,neuron,explanation\n0,0,"never closed\n', /quote\.csv:2: a quoted field is not closed/],
      ['score.csv', 'layer,neuron,explanation,score\n0,0,x,high\n', /score\.csv:2: score "high" is not a number/],
      ['layer.csv', 'layer,neuron,explanation\n-1,0,x\n', /layer\.csv:2: layer and neuron must be integers/],
    ];
    for (const [name, text, pattern] of cases) {
      writeFileSync(join(dir, name), text);
      expect(() => readExplanations(join(dir, name), shape), name).toThrow(pattern);
    }
    expect(() => readExplanations(join(dir, 'missing'), shape)).toThrow(/not found/);
  });

  it('stores explanations per model atomically, merging a re-import', () => {
    const dir = tempDir('explanation-store');
    const path = join(dir, 'model', 'explanations.json');
    const store = new ExplanationStore(path);
    expect(store.get(0, 1)).toBeNull();
    store.import([{ layer: 0, index: 1, text: 'first', score: 0.2, source: 'a.csv' }, { layer: 1, index: 2, text: 'kept', score: null, source: 'a.csv' }]);
    store.import([{ layer: 0, index: 1, text: 'replaced', score: 0.1, source: 'b.csv' }]);
    const reopened = new ExplanationStore(path);
    expect(reopened.get(0, 1)).toEqual({ text: 'replaced', score: 0.1, source: 'b.csv' });
    expect(reopened.get(1, 2)).toEqual({ text: 'kept', score: null, source: 'a.csv' });
    expect(reopened.size).toBe(2);
    expect(readdirSync(join(dir, 'model'))).toEqual(['explanations.json']); // no temporary files left
  });

  it('refuses to import over a file it cannot read, leaving that file as it was', () => {
    const dir = tempDir('explanation-unreadable');
    const path = join(dir, 'explanations.json');
    const damaged = '{"version": 1, "explanations": [[0, 1, "hand-edited, then cut sh';
    writeFileSync(path, damaged);
    const store = new ExplanationStore(path);
    expect(store.get(0, 1)).toBeNull();
    expect(() => store.import([{ layer: 2, index: 3, text: 'new', score: 0.5, source: 'c.csv' }])).toThrow(/explanations\.json holds earlier explanations but cannot be read .*nothing was imported/);
    expect(readFileSync(path, 'utf8')).toBe(damaged);
    expect(readdirSync(dir)).toEqual(['explanations.json']);
  });
});
