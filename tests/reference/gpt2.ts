/**
 * GPT-2 reference forward pass: float64, plain loops, straight from the Hugging Face tensors
 * (names and orientations as save_pretrained writes them) and config.json. It shares no code with
 * the engine in server/: it exists to check the loader + ONNX compiler against.
 *
 * Model (GPT2LMHeadModel), for one sequence of T token ids:
 *   x = wte[ids] + wpe[0..T)
 *   per layer:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
 *   logits = ln_f(x) · wteᵀ                                   (tied head)
 * Conv1D weights are stored [in, out]: y[j] = b[j] + Σ_i x[i] W[i, j].
 * Attention: causal softmax(q·k / sqrt(dh)); MLP: c_proj(gelu_new(c_fc(x))).
 *
 * Hooks (TransformerLens names, no batch dim): hook_embed, hook_pos_embed [T,d];
 * blocks.l.{hook_resid_pre, hook_attn_out, hook_resid_mid, hook_mlp_out, hook_resid_post} [T,d];
 * blocks.l.ln1.hook_scale, blocks.l.ln2.hook_scale, ln_final.hook_scale [T,1];
 * blocks.l.attn.{hook_q, hook_k, hook_v, hook_z} [T,H,dh]; blocks.l.attn.hook_pattern [H,T,T];
 * blocks.l.mlp.{hook_pre, hook_post} [T,d_mlp].
 */
import type { HookValue, ReferenceResult } from './types.js';

export type { HookValue, ReferenceResult } from './types.js';

/** Any tensor with a shape and row-major values (Float32Array from a loader, etc.). */
export interface RefTensor {
  shape: number[];
  data: ArrayLike<number>;
}

export interface Gpt2RefConfig {
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_positions?: number;
  n_ctx?: number;
  n_inner?: number | null;
  vocab_size: number;
  activation_function?: string;
  layer_norm_epsilon?: number;
  scale_attn_weights?: boolean;
  scale_attn_by_inverse_layer_idx?: boolean;
}

export function gpt2Reference(config: Gpt2RefConfig, tensors: Record<string, RefTensor>, ids: number[]): ReferenceResult {
  const d = config.n_embd;
  const L = config.n_layer;
  const H = config.n_head;
  const dh = d / H;
  const V = config.vocab_size;
  const dff = config.n_inner ?? 4 * d;
  const eps = config.layer_norm_epsilon ?? 1e-5;
  const nCtx = config.n_positions ?? config.n_ctx ?? 1024;
  const act = config.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') throw new Error(`reference: unsupported activation ${act}`);
  const T = ids.length;
  if (T > nCtx) throw new Error(`reference: ${T} tokens exceed the context of ${nCtx}`);

  // Weight lookup: accept 'transformer.'-prefixed names (save_pretrained) and bare ones (hub file).
  const w = (name: string, shape: number[]): ArrayLike<number> => {
    const t = tensors[`transformer.${name}`] ?? tensors[name];
    if (!t) throw new Error(`reference: missing tensor ${name}`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`reference: ${name} has shape [${t.shape}], expected [${shape}]`);
    return t.data;
  };
  const hooks: Record<string, HookValue> = {};
  const save = (name: string, shape: number[], data: Float64Array) => {
    hooks[name] = { shape, data: Float64Array.from(data) };
  };

  // ---- embeddings -------------------------------------------------------------------------
  const wte = w('wte.weight', [V, d]); // [V, d]
  const wpe = w('wpe.weight', [nCtx, d]); // [n_ctx, d]
  const embed = new Float64Array(T * d); // [T, d]
  const posEmbed = new Float64Array(T * d); // [T, d]
  const x = new Float64Array(T * d); // [T, d] the residual stream
  for (let t = 0; t < T; t++) {
    const id = ids[t]!;
    if (!(id >= 0 && id < V)) throw new Error(`reference: token id ${id} out of range`);
    for (let i = 0; i < d; i++) {
      embed[t * d + i] = wte[id * d + i]!;
      posEmbed[t * d + i] = wpe[t * d + i]!;
      x[t * d + i] = embed[t * d + i]! + posEmbed[t * d + i]!;
    }
  }
  save('hook_embed', [T, d], embed);
  save('hook_pos_embed', [T, d], posEmbed);

  // ---- blocks -----------------------------------------------------------------------------
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    const b = `blocks.${l}.`;
    save(`${b}hook_resid_pre`, [T, d], x);

    // ln_1
    const ln1 = new Float64Array(T * d); // [T, d]
    const scale1 = new Float64Array(T); // [T, 1]
    layerNorm(x, T, d, w(`${p}ln_1.weight`, [d]), w(`${p}ln_1.bias`, [d]), eps, ln1, scale1);
    save(`${b}ln1.hook_scale`, [T, 1], scale1);

    // qkv = ln1 · c_attn + b    [T, 3d], columns [q | k | v], head h at h*dh..(h+1)*dh in each
    const qkv = new Float64Array(T * 3 * d);
    conv1d(ln1, T, d, 3 * d, w(`${p}attn.c_attn.weight`, [d, 3 * d]), w(`${p}attn.c_attn.bias`, [3 * d]), qkv);
    const q = new Float64Array(T * d); // [T, H, dh]
    const k = new Float64Array(T * d); // [T, H, dh]
    const v = new Float64Array(T * d); // [T, H, dh]
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < d; i++) {
        q[t * d + i] = qkv[t * 3 * d + i]!;
        k[t * d + i] = qkv[t * 3 * d + d + i]!;
        v[t * d + i] = qkv[t * 3 * d + 2 * d + i]!;
      }
    }
    save(`${b}attn.hook_q`, [T, H, dh], q);
    save(`${b}attn.hook_k`, [T, H, dh], k);
    save(`${b}attn.hook_v`, [T, H, dh], v);

    // pattern[h, t, s] = softmax_s≤t( q[t,h]·k[s,h] * scale )     [H, T, T], zero above the diagonal
    let scale = config.scale_attn_weights === false ? 1 : 1 / Math.sqrt(dh);
    if (config.scale_attn_by_inverse_layer_idx) scale /= l + 1;
    const pattern = new Float64Array(H * T * T);
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const row = (h * T + t) * T;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < dh; i++) dot += q[t * d + h * dh + i]! * k[s * d + h * dh + i]!;
          pattern[row + s] = dot * scale;
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

    // z[t, h, i] = Σ_s pattern[h, t, s] v[s, h, i]     [T, H, dh]
    const z = new Float64Array(T * d);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < dh; i++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += pattern[(h * T + t) * T + s]! * v[s * d + h * dh + i]!;
          z[t * d + h * dh + i] = acc;
        }
      }
    }
    save(`${b}attn.hook_z`, [T, H, dh], z);

    // attn_out = z (flattened [T, H*dh]) · c_proj + b    [T, d]
    const attnOut = new Float64Array(T * d);
    conv1d(z, T, d, d, w(`${p}attn.c_proj.weight`, [d, d]), w(`${p}attn.c_proj.bias`, [d]), attnOut);
    save(`${b}hook_attn_out`, [T, d], attnOut);
    for (let i = 0; i < T * d; i++) x[i] = x[i]! + attnOut[i]!;
    save(`${b}hook_resid_mid`, [T, d], x);

    // ln_2
    const ln2 = new Float64Array(T * d);
    const scale2 = new Float64Array(T);
    layerNorm(x, T, d, w(`${p}ln_2.weight`, [d]), w(`${p}ln_2.bias`, [d]), eps, ln2, scale2);
    save(`${b}ln2.hook_scale`, [T, 1], scale2);

    // MLP: pre = ln2 · c_fc + b [T, dff]; post = gelu_new(pre); mlp_out = post · c_proj + b [T, d]
    const pre = new Float64Array(T * dff);
    conv1d(ln2, T, d, dff, w(`${p}mlp.c_fc.weight`, [d, dff]), w(`${p}mlp.c_fc.bias`, [dff]), pre);
    save(`${b}mlp.hook_pre`, [T, dff], pre);
    const post = new Float64Array(T * dff);
    for (let i = 0; i < T * dff; i++) post[i] = geluNew(pre[i]!);
    save(`${b}mlp.hook_post`, [T, dff], post);
    const mlpOut = new Float64Array(T * d);
    conv1d(post, T, dff, d, w(`${p}mlp.c_proj.weight`, [dff, d]), w(`${p}mlp.c_proj.bias`, [d]), mlpOut);
    save(`${b}hook_mlp_out`, [T, d], mlpOut);
    for (let i = 0; i < T * d; i++) x[i] = x[i]! + mlpOut[i]!;
    save(`${b}hook_resid_post`, [T, d], x);
  }

  // ---- final norm and tied unembedding ----------------------------------------------------
  const lnf = new Float64Array(T * d);
  const scaleF = new Float64Array(T);
  layerNorm(x, T, d, w('ln_f.weight', [d]), w('ln_f.bias', [d]), eps, lnf, scaleF);
  save('ln_final.hook_scale', [T, 1], scaleF);
  const logits = new Float64Array(T * V); // [T, V]
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < V; j++) {
      let acc = 0;
      for (let i = 0; i < d; i++) acc += lnf[t * d + i]! * wte[j * d + i]!;
      logits[t * V + j] = acc;
    }
  }
  return { logits, hooks };
}

/** out[t] = (x[t] - mean) / s * gain + bias, s = sqrt(var + eps) (biased var); scale[t] = s */
function layerNorm(
  x: Float64Array, T: number, d: number,
  gain: ArrayLike<number>, bias: ArrayLike<number>, eps: number,
  out: Float64Array, scale: Float64Array,
): void {
  for (let t = 0; t < T; t++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[t * d + i]!;
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[t * d + i]! - mean) ** 2;
    variance /= d;
    const s = Math.sqrt(variance + eps);
    scale[t] = s;
    for (let i = 0; i < d; i++) out[t * d + i] = ((x[t * d + i]! - mean) / s) * gain[i]! + bias[i]!;
  }
}

/** HF Conv1D: out[t, j] = bias[j] + Σ_i x[t, i] W[i, j], with W stored [nIn, nOut] */
function conv1d(
  x: Float64Array, T: number, nIn: number, nOut: number,
  W: ArrayLike<number>, bias: ArrayLike<number>, out: Float64Array,
): void {
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < nOut; j++) {
      let acc = bias[j]!;
      for (let i = 0; i < nIn; i++) acc += x[t * nIn + i]! * W[i * nOut + j]!;
      out[t * nOut + j] = acc;
    }
  }
}

/** gelu_new (tanh approximation): 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))) */
function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}
