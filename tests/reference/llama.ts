/**
 * Llama reference forward pass (LlamaForCausalLM layout): float64, plain loops, straight from the
 * Hugging Face tensors and config.json. Shares no code with the engine in server/.
 *
 * Model, for one sequence of T token ids:
 *   x = embed_tokens[ids]
 *   per layer:  x = x + o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))),  n = rms(x)·γ₁
 *               x = x + down_proj(silu(gate_proj(n)) ⊙ up_proj(n)),                  n = rms(x)·γ₂
 *   logits = (rms(x)·γ_f) · lm_headᵀ     (lm_head.weight, or embed_tokens when tied / absent)
 * nn.Linear weights are stored [out, in]: y[j] = Σ_i W[j, i] x[i].
 * RMSNorm: y = x / sqrt(mean(x²) + eps) ⊙ γ.
 * Rotary (HF rotate_half convention): within each head, dims i and i + dh/2 form a pair rotated by
 *   angle pos · theta^(−2i/dh), i < dh/2:  (a, b) -> (a cos − b sin, b cos + a sin).
 * Grouped KV: query head h reads KV head floor(h / (H / Hkv)). Scores scaled by 1/sqrt(dh).
 *
 * Hooks (TransformerLens names, no batch dim): hook_embed [T,d];
 * blocks.l.{hook_resid_pre, hook_attn_out, hook_resid_mid, hook_mlp_out, hook_resid_post} [T,d];
 * blocks.l.ln1.hook_scale, blocks.l.ln2.hook_scale, ln_final.hook_scale [T,1];
 * blocks.l.attn.hook_q [T,H,dh], hook_k / hook_v [T,Hkv,dh] (q, k after rotary);
 * blocks.l.attn.hook_pattern [H,T,T]; blocks.l.attn.hook_z [T,H,dh];
 * blocks.l.mlp.hook_pre (gate pre-activation), hook_pre_linear (up), hook_post (silu(gate)·up) [T,d_mlp].
 */
import type { HookValue, ReferenceResult } from './types.js';

export type { HookValue, ReferenceResult } from './types.js';

/** Any tensor with a shape and row-major values. */
export interface RefTensor {
  shape: number[];
  data: ArrayLike<number>;
}

export interface LlamaRefConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  max_position_embeddings?: number;
  vocab_size: number;
  tie_word_embeddings?: boolean;
  hidden_act?: string;
}

export function llamaReference(config: LlamaRefConfig, tensors: Record<string, RefTensor>, ids: number[]): ReferenceResult {
  const d = config.hidden_size;
  const dff = config.intermediate_size;
  const L = config.num_hidden_layers;
  const H = config.num_attention_heads;
  const Hkv = config.num_key_value_heads ?? H;
  const dh = config.head_dim ?? d / H;
  const V = config.vocab_size;
  const eps = config.rms_norm_eps ?? 1e-6;
  const theta = config.rope_theta ?? 10000;
  const group = H / Hkv; // query heads per KV head
  const act = config.hidden_act ?? 'silu';
  if (act !== 'silu') throw new Error(`reference: unsupported activation ${act}`);
  const T = ids.length;
  if (config.max_position_embeddings !== undefined && T > config.max_position_embeddings) {
    throw new Error(`reference: ${T} tokens exceed the context of ${config.max_position_embeddings}`);
  }

  const w = (name: string, shape: number[]): ArrayLike<number> => {
    const t = tensors[name];
    if (!t) throw new Error(`reference: missing tensor ${name}`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`reference: ${name} has shape [${t.shape}], expected [${shape}]`);
    return t.data;
  };
  const optional = (name: string, n: number): ArrayLike<number> | null => (tensors[name] ? w(name, [n]) : null);
  const hooks: Record<string, HookValue> = {};
  const save = (name: string, shape: number[], data: Float64Array) => {
    hooks[name] = { shape, data: Float64Array.from(data) };
  };

  // ---- embeddings -------------------------------------------------------------------------
  const embedW = w('model.embed_tokens.weight', [V, d]); // [V, d]
  const x = new Float64Array(T * d); // [T, d] the residual stream
  for (let t = 0; t < T; t++) {
    const id = ids[t]!;
    if (!(id >= 0 && id < V)) throw new Error(`reference: token id ${id} out of range`);
    for (let i = 0; i < d; i++) x[t * d + i] = embedW[id * d + i]!;
  }
  save('hook_embed', [T, d], x);

  // ---- blocks -----------------------------------------------------------------------------
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const b = `blocks.${l}.`;
    save(`${b}hook_resid_pre`, [T, d], x);

    // input_layernorm (RMSNorm)
    const n1 = new Float64Array(T * d); // [T, d]
    const scale1 = new Float64Array(T); // [T, 1]
    rmsNorm(x, T, d, w(`${p}input_layernorm.weight`, [d]), eps, n1, scale1);
    save(`${b}ln1.hook_scale`, [T, 1], scale1);

    // projections
    const q = new Float64Array(T * H * dh); // [T, H, dh]
    const k = new Float64Array(T * Hkv * dh); // [T, Hkv, dh]
    const v = new Float64Array(T * Hkv * dh); // [T, Hkv, dh]
    linear(n1, T, d, H * dh, w(`${p}self_attn.q_proj.weight`, [H * dh, d]), optional(`${p}self_attn.q_proj.bias`, H * dh), q);
    linear(n1, T, d, Hkv * dh, w(`${p}self_attn.k_proj.weight`, [Hkv * dh, d]), optional(`${p}self_attn.k_proj.bias`, Hkv * dh), k);
    linear(n1, T, d, Hkv * dh, w(`${p}self_attn.v_proj.weight`, [Hkv * dh, d]), optional(`${p}self_attn.v_proj.bias`, Hkv * dh), v);

    // rotary embeddings on q and k, rotate_half pairs (i, i + dh/2)
    rotate(q, T, H, dh, theta);
    rotate(k, T, Hkv, dh, theta);
    save(`${b}attn.hook_q`, [T, H, dh], q);
    save(`${b}attn.hook_k`, [T, Hkv, dh], k);
    save(`${b}attn.hook_v`, [T, Hkv, dh], v);

    // pattern[h, t, s] = softmax_s≤t( q[t,h]·k[s,kv(h)] / sqrt(dh) )     [H, T, T]
    const pattern = new Float64Array(H * T * T);
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const row = (h * T + t) * T;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < dh; i++) dot += q[(t * H + h) * dh + i]! * k[(s * Hkv + kv) * dh + i]!;
          pattern[row + s] = dot / Math.sqrt(dh);
          if (pattern[row + s]! > max) max = pattern[row + s]!;
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          pattern[row + s] = Math.exp(pattern[row + s]! - max);
          sum += pattern[row + s]!;
        }
        for (let s = 0; s <= t; s++) pattern[row + s] = pattern[row + s]! / sum;
      }
    }
    save(`${b}attn.hook_pattern`, [H, T, T], pattern);

    // z[t, h, i] = Σ_s pattern[h, t, s] v[s, kv(h), i]     [T, H, dh]
    const z = new Float64Array(T * H * dh);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const kv = Math.floor(h / group);
        for (let i = 0; i < dh; i++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += pattern[(h * T + t) * T + s]! * v[(s * Hkv + kv) * dh + i]!;
          z[(t * H + h) * dh + i] = acc;
        }
      }
    }
    save(`${b}attn.hook_z`, [T, H, dh], z);

    // attn_out = o_proj(z flattened to [T, H*dh])     [T, d]
    const attnOut = new Float64Array(T * d);
    linear(z, T, H * dh, d, w(`${p}self_attn.o_proj.weight`, [d, H * dh]), optional(`${p}self_attn.o_proj.bias`, d), attnOut);
    save(`${b}hook_attn_out`, [T, d], attnOut);
    for (let i = 0; i < T * d; i++) x[i] = x[i]! + attnOut[i]!;
    save(`${b}hook_resid_mid`, [T, d], x);

    // post_attention_layernorm (RMSNorm)
    const n2 = new Float64Array(T * d);
    const scale2 = new Float64Array(T);
    rmsNorm(x, T, d, w(`${p}post_attention_layernorm.weight`, [d]), eps, n2, scale2);
    save(`${b}ln2.hook_scale`, [T, 1], scale2);

    // SwiGLU MLP: gate, up [T, dff]; post = silu(gate) ⊙ up; mlp_out = down_proj(post) [T, d]
    const gate = new Float64Array(T * dff);
    const up = new Float64Array(T * dff);
    linear(n2, T, d, dff, w(`${p}mlp.gate_proj.weight`, [dff, d]), optional(`${p}mlp.gate_proj.bias`, dff), gate);
    linear(n2, T, d, dff, w(`${p}mlp.up_proj.weight`, [dff, d]), optional(`${p}mlp.up_proj.bias`, dff), up);
    save(`${b}mlp.hook_pre`, [T, dff], gate);
    save(`${b}mlp.hook_pre_linear`, [T, dff], up);
    const post = new Float64Array(T * dff);
    for (let i = 0; i < T * dff; i++) post[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
    save(`${b}mlp.hook_post`, [T, dff], post);
    const mlpOut = new Float64Array(T * d);
    linear(post, T, dff, d, w(`${p}mlp.down_proj.weight`, [d, dff]), optional(`${p}mlp.down_proj.bias`, d), mlpOut);
    save(`${b}hook_mlp_out`, [T, d], mlpOut);
    for (let i = 0; i < T * d; i++) x[i] = x[i]! + mlpOut[i]!;
    save(`${b}hook_resid_post`, [T, d], x);
  }

  // ---- final norm and head ----------------------------------------------------------------
  const nf = new Float64Array(T * d);
  const scaleF = new Float64Array(T);
  rmsNorm(x, T, d, w('model.norm.weight', [d]), eps, nf, scaleF);
  save('ln_final.hook_scale', [T, 1], scaleF);
  const head = tensors['lm_head.weight'] ? w('lm_head.weight', [V, d]) : embedW; // [V, d]
  const logits = new Float64Array(T * V); // [T, V]
  linear(nf, T, d, V, head, null, logits);
  return { logits, hooks };
}

/** out[t] = x[t] / s ⊙ gain, s = sqrt(mean(x[t]²) + eps); scale[t] = s */
function rmsNorm(x: Float64Array, T: number, d: number, gain: ArrayLike<number>, eps: number, out: Float64Array, scale: Float64Array): void {
  for (let t = 0; t < T; t++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[t * d + i]! * x[t * d + i]!;
    const s = Math.sqrt(ms / d + eps);
    scale[t] = s;
    for (let i = 0; i < d; i++) out[t * d + i] = (x[t * d + i]! / s) * gain[i]!;
  }
}

/** nn.Linear: out[t, j] = bias[j] + Σ_i W[j, i] x[t, i], with W stored [nOut, nIn] */
function linear(
  x: Float64Array, T: number, nIn: number, nOut: number,
  W: ArrayLike<number>, bias: ArrayLike<number> | null, out: Float64Array,
): void {
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < nOut; j++) {
      let acc = bias ? bias[j]! : 0;
      for (let i = 0; i < nIn; i++) acc += W[j * nIn + i]! * x[t * nIn + i]!;
      out[t * nOut + j] = acc;
    }
  }
}

/** In place on [T, nHeads, dh]: position t, pair (i, i + dh/2) rotated by t · theta^(−2i/dh). */
function rotate(a: Float64Array, T: number, nHeads: number, dh: number, theta: number): void {
  const half = dh / 2;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * dh;
      for (let i = 0; i < half; i++) {
        const angle = t * Math.pow(theta, (-2 * i) / dh);
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        const x1 = a[base + i]!;
        const x2 = a[base + i + half]!;
        a[base + i] = x1 * cos - x2 * sin;
        a[base + i + half] = x2 * cos + x1 * sin;
      }
    }
  }
}
