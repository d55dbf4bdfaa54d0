"""Shared pieces of the transcoder tools: the bundled model's MLP inputs and outputs
(`blocks.{l}.ln2.hook_normalized` after γ and β, `blocks.{l}.hook_mlp_out`) from one forward, the
stacked per-layer transcoders used in training, the export to circuit-tracer's layout (one
safetensors file per layer plus a config) and its reader, and the token streams."""
import json
import math
import os
import re
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tools/train, for gpt2.py
from gpt2 import load_hf, read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
MODEL_DIR = os.path.join(ROOT, 'assets', 'models', 'brown-gpt2')
OUT_DIR = os.path.join(MODEL_DIR, 'transcoders')
WORK = os.path.join(ROOT, 'tools', 'train', 'work')
CKPT_DIR = os.path.join(WORK, 'transcoders')


def load_model(dtype=torch.float32):
    config = json.load(open(os.path.join(MODEL_DIR, 'config.json')))
    return load_hf(os.path.join(MODEL_DIR, 'model.safetensors'), config, dtype).eval(), config


def tokens(split):
    return np.fromfile(os.path.join(WORK, f'{split}.u16'), dtype=np.uint16).astype(np.int64)


def attn(block, x):
    """The attention half of gpt2.Block.forward (GPT-2's causal attention), returning resid_mid."""
    B, T, d = x.shape
    H = block.n_head
    q, k, v = block.c_attn(block.ln_1(x)).split(d, dim=2)
    q, k, v = (t.view(B, T, H, d // H).transpose(1, 2) for t in (q, k, v))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // H)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), 1)
    pattern = scores.masked_fill(mask, float('-inf')).softmax(-1)
    z = (pattern @ v).transpose(1, 2).reshape(B, T, d)
    return x + block.c_proj(z), pattern


def mlp(block, x_norm):
    return block.mlp_proj(F.gelu(block.c_fc(x_norm), approximate='tanh'))


def run(model, ids, replace=None, hooks=None):
    """The bundled GPT-2, written per block so the MLP input and output can be read or replaced.
    `replace(l, x_norm, y) -> y'` substitutes layer l's MLP output; `hooks` collects
    `blocks.{l}.ln2.hook_normalized`, `blocks.{l}.hook_mlp_out`, `blocks.{l}.attn.hook_pattern`.
    Returns the logits."""
    T = ids.shape[1]
    x = model.wte(ids) + model.wpe(torch.arange(T, device=ids.device))
    for l, block in enumerate(model.blocks):
        x, pattern = attn(block, x)
        x_norm = block.ln_2(x)
        y = mlp(block, x_norm)
        if hooks is not None:
            hooks[f'blocks.{l}.ln2.hook_normalized'] = x_norm
            hooks[f'blocks.{l}.hook_mlp_out'] = y
            hooks[f'blocks.{l}.attn.hook_pattern'] = pattern
        if replace is not None:
            y = replace(l, x_norm, y)
        x = x + y
    return model.ln_f(x) @ model.wte.weight.T


def mlp_io(model, ids):
    """[L, N, d] MLP inputs and outputs of every layer for a batch of windows (one forward, no logits)."""
    T = ids.shape[1]
    x = model.wte(ids) + model.wpe(torch.arange(T, device=ids.device))
    xs, ys = [], []
    for block in model.blocks:
        x, _ = attn(block, x)
        x_norm = block.ln_2(x)
        y = mlp(block, x_norm)
        xs.append(x_norm.reshape(-1, x.shape[-1]))
        ys.append(y.reshape(-1, x.shape[-1]))
        x = x + y
    return torch.stack(xs), torch.stack(ys)


class Transcoders(nn.Module):
    """L per-layer skip transcoders stacked along a first axis (one batched matmul for all layers),
    working on inputs and targets divided by per-layer scalar scales (folded back on export).
    Sparsity: BatchTopK while training (the k·N largest pre-activations of the batch stay, per layer),
    a JumpReLU with one threshold per layer at inference."""

    def __init__(self, L, d, n_features, k):
        super().__init__()
        self.k = k
        W_dec = torch.randn(L, n_features, d)
        W_dec /= W_dec.norm(dim=-1, keepdim=True)
        self.W_dec = nn.Parameter(W_dec)
        self.W_enc = nn.Parameter(W_dec.clone() * 0.1)
        self.b_enc = nn.Parameter(torch.zeros(L, n_features))
        self.b_dec = nn.Parameter(torch.zeros(L, d))
        self.W_skip = nn.Parameter(torch.zeros(L, d, d))
        self.register_buffer('x_scale', torch.ones(L))
        self.register_buffer('y_scale', torch.ones(L))
        self.register_buffer('threshold', torch.zeros(L))  # running estimate of the batch thresholds

    def pre(self, x):  # x [L, N, d] (scaled) → [L, N, F]
        return torch.baddbmm(self.b_enc.unsqueeze(1), x, self.W_enc.transpose(1, 2))

    def decode(self, f, x):
        return torch.baddbmm(self.b_dec.unsqueeze(1), f, self.W_dec) + x @ self.W_skip.transpose(1, 2)

    @torch.no_grad()
    def normalise_decoder(self):
        self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8)


class PickedPreActivations(torch.autograd.Function):
    """The pre-activations z[l, n, f] of the picked (layer, token, feature) triples, as a function of
    W_enc and b_enc. Forward takes the values from the dense no-grad encoder pass; backward forms
    only the gradient rows the picks touch (a sparse × dense product per layer) instead of the
    dense [F, N] × [N, d] product, which is most of the cost of a step when k ≪ F."""

    @staticmethod
    def forward(ctx, W_enc, b_enc, values, x, l, n, f):
        ctx.save_for_backward(x, l, n, f)
        ctx.shape = W_enc.shape
        return values.clone()

    @staticmethod
    def backward(ctx, g):
        x, l, n, f = ctx.saved_tensors
        L, Fn, d = ctx.shape
        dW = torch.zeros(ctx.shape, dtype=g.dtype)
        bounds = torch.searchsorted(l, torch.arange(L + 1))
        for layer in range(L):
            a, b = int(bounds[layer]), int(bounds[layer + 1])
            if a == b:
                continue
            S = torch.sparse_coo_tensor(torch.stack([f[a:b], n[a:b]]), g[a:b], (Fn, x.shape[1]))
            dW[layer] = torch.sparse.mm(S, x[layer])
        db = torch.zeros(L * Fn, dtype=g.dtype).index_add_(0, l * Fn + f, g).view(L, Fn)
        return dW, db, None, None, None, None, None


def sparse_forward(tc, x, z, picked):
    """Reconstruction from the picked pre-activations only: [L, N, d] (scaled units).
    `picked` is a bool [L, N, F] mask; decoding is an embedding_bag over the picked rows of W_dec."""
    L, N, Fn = picked.shape
    l, n, f = picked.nonzero(as_tuple=True)  # sorted by (l, n): one bag per (layer, token)
    vals = PickedPreActivations.apply(tc.W_enc, tc.b_enc, z[l, n, f], x, l, n, f)
    counts = picked.sum(2).reshape(-1)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)[:-1]])
    dec = F.embedding_bag(l * Fn + f, tc.W_dec.reshape(L * Fn, -1), offsets, mode='sum', per_sample_weights=vals)
    return dec.view(L, N, -1)


def batch_threshold(z, k, sample=1 << 17, generator=None):
    """Per layer, the value exceeded by k of every F pre-activations in the batch (BatchTopK's cut),
    estimated from a random sample of the entries; never below 0 so features stay ReLU-positive."""
    L, N, Fn = z.shape
    flat = z.detach().reshape(L, -1)
    idx = torch.randint(0, flat.shape[1], (min(sample, flat.shape[1]),), generator=generator)
    s = flat[:, idx].float()
    rank = max(1, int(round(s.shape[1] * (1 - k / Fn))))
    return s.kthvalue(rank, dim=1).values.clamp_min(0)


# ---- circuit-tracer layout ----

def load_exported(directory=OUT_DIR):
    """The exported set as float64 numpy arrays per layer, with the config."""
    # config.yaml as export.py writes it: `layer: N` then `filepath: "..."` per transcoder
    text = open(os.path.join(directory, 'config.yaml')).read()
    entries = [{'layer': int(l), 'filepath': f} for l, f in re.findall(r'layer:\s*(\d+)\s*\n\s*filepath:\s*"([^"]+)"', text)]
    read = lambda path: {k: v.astype(np.float64) for k, v in read_safetensors(path).items()}
    layers = {e['layer']: read(os.path.join(directory, e['filepath'])) for e in entries}
    return {'transcoders': entries}, [layers[l] for l in sorted(layers)]


def transcode(p, x):
    """Reference forward of one exported layer (JumpReLU with skip) on float64 arrays/tensors."""
    z = x @ p['W_enc'].T + p['b_enc']
    f = z * (z > p['threshold'])
    y = f @ p['W_dec'] + p['b_dec']
    if 'W_skip' in p:
        y = y + x @ p['W_skip'].T
    return f, y
