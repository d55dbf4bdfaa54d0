/**
 * The YAML subset reader for circuit-tracer transcoder configs: the shapes those files take
 * (comments, quoted and plain scalars, a list of mappings, a list of strings) and refusals with
 * the line named.
 */
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../shared/transcoders/yaml.js';

describe('parseYaml', () => {
  it('reads a circuit-tracer transcoder config', () => {
    const text = [
      '# Transcoder configuration',
      'model_name: "google/gemma-2-2b"',
      "feature_input_hook: 'ln2.hook_normalized'  # a comment",
      'feature_output_hook: hook_mlp_out',
      'k: 32',
      'scale: -1.5e-3',
      'flag: true',
      'nothing: ~',
      '',
      'transcoders:',
      '  - id: "gemma-0"',
      '    layer: 0',
      '    filepath: "hf://google/gemma-scope-2b-pt-transcoders/layer_0/params.npz"',
      '    ',
      '  - id: gemma-1',
      '    layer: 1',
      '    filepath: "a # not a comment.safetensors"',
      'more:',
      '- one',
      '- "two"',
      'nested:',
      '  inner:',
      '    deep: 3',
    ].join('\n');
    expect(parseYaml(text)).toEqual({
      model_name: 'google/gemma-2-2b',
      feature_input_hook: 'ln2.hook_normalized',
      feature_output_hook: 'hook_mlp_out',
      k: 32,
      scale: -1.5e-3,
      flag: true,
      nothing: null,
      transcoders: [
        { id: 'gemma-0', layer: 0, filepath: 'hf://google/gemma-scope-2b-pt-transcoders/layer_0/params.npz' },
        { id: 'gemma-1', layer: 1, filepath: 'a # not a comment.safetensors' },
      ],
      more: ['one', 'two'],
      nested: { inner: { deep: 3 } },
    });
  });

  it('refuses what it cannot read, naming the line', () => {
    expect(() => parseYaml('a: 1\n  b: 2', 'c.yaml')).toThrow(/c\.yaml: line 2: unexpected indentation/);
    expect(() => parseYaml('a: [1, 2]', 'c.yaml')).toThrow(/line 1: this YAML feature is not supported/);
    expect(() => parseYaml('a: 1\na: 2', 'c.yaml')).toThrow(/line 2: key "a" appears twice/);
    expect(() => parseYaml('a: "open', 'c.yaml')).toThrow(/line 1: unterminated quoted string/);
    expect(() => parseYaml('just text', 'c.yaml')).toThrow(/line 1: expected "key: value"/);
  });
});
