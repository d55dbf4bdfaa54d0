/**
 * Result shape shared by the plain-loop reference implementations (gpt2.ts, llama.ts).
 * Hook names and shapes follow TransformerLens as listed in shared/docs/INTERP.md, with no batch
 * dimension; every array is row-major float64.
 */

export interface HookValue {
  shape: number[];
  data: Float64Array;
}

export interface ReferenceResult {
  /** [T, V] row-major */
  logits: Float64Array;
  /** e.g. 'blocks.0.attn.hook_pattern' -> { shape: [H, T, T], data } */
  hooks: Record<string, HookValue>;
}
