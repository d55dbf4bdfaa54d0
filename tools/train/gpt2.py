"""GPT-2 exactly (LayerNorm eps 1e-5, learned positions, tanh-GELU, tied embeddings, biases),
written out in PyTorch for the offline training of the bundled model, plus the safetensors
writer/reader in Hugging Face's GPT2LMHeadModel naming (Conv1D weights stored [in, out])."""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, hooks=None, prefix=''):
        B, T, d = x.shape
        H = self.n_head
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (t.view(B, T, H, d // H).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // H)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), 1)
        pattern = scores.masked_fill(mask, float('-inf')).softmax(-1)
        z = (pattern @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.c_proj(z)
        post = F.gelu(self.c_fc(self.ln_2(x)), approximate='tanh')
        if hooks is not None:
            hooks[prefix + 'attn.hook_pattern'] = pattern
            hooks[prefix + 'mlp.hook_post'] = post
        x = x + self.mlp_proj(post)
        if hooks is not None:
            hooks[prefix + 'hook_resid_post'] = x
        return x


class GPT2(nn.Module):
    def __init__(self, vocab, n_ctx, d, n_layer, n_head):
        super().__init__()
        self.config = dict(vocab=vocab, n_ctx=n_ctx, d=d, n_layer=n_layer, n_head=n_head)
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(n_ctx, d)
        self.blocks = nn.ModuleList([Block(d, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.apply(self._init)
        for block in self.blocks:  # GPT-2's scaled init of residual projections
            for proj in (block.c_proj, block.mlp_proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, ids, hooks=None):
        T = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(T, device=ids.device))
        for l, block in enumerate(self.blocks):
            x = block(x, hooks, f'blocks.{l}.')
        return self.ln_f(x) @ self.wte.weight.T  # tied unembedding


def hf_tensors(model):
    """Hugging Face GPT2LMHeadModel names; nn.Linear [out, in] → Conv1D [in, out]."""
    out = {
        'transformer.wte.weight': model.wte.weight,
        'transformer.wpe.weight': model.wpe.weight,
        'transformer.ln_f.weight': model.ln_f.weight,
        'transformer.ln_f.bias': model.ln_f.bias,
    }
    for l, b in enumerate(model.blocks):
        p = f'transformer.h.{l}.'
        out[p + 'ln_1.weight'] = b.ln_1.weight
        out[p + 'ln_1.bias'] = b.ln_1.bias
        out[p + 'attn.c_attn.weight'] = b.c_attn.weight.T
        out[p + 'attn.c_attn.bias'] = b.c_attn.bias
        out[p + 'attn.c_proj.weight'] = b.c_proj.weight.T
        out[p + 'attn.c_proj.bias'] = b.c_proj.bias
        out[p + 'ln_2.weight'] = b.ln_2.weight
        out[p + 'ln_2.bias'] = b.ln_2.bias
        out[p + 'mlp.c_fc.weight'] = b.c_fc.weight.T
        out[p + 'mlp.c_fc.bias'] = b.c_fc.bias
        out[p + 'mlp.c_proj.weight'] = b.mlp_proj.weight.T
        out[p + 'mlp.c_proj.bias'] = b.mlp_proj.bias
    return {k: v.detach().to(torch.float32).contiguous().numpy() for k, v in out.items()}


NUMPY_DTYPES = {'F32': '<f4', 'F16': '<f2'}


def write_safetensors(path, arrays, dtype='F32', metadata=None):
    """8-byte little-endian header length, JSON header, raw little-endian data (F32 or F16)."""
    np_dtype = NUMPY_DTYPES[dtype]
    header, offset, blobs = {}, 0, []
    for name in sorted(arrays):
        data = np.ascontiguousarray(arrays[name], dtype=np_dtype).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(arrays[name].shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header['__metadata__'] = {'format': 'pt', **(metadata or {})}
    encoded = json.dumps(header, separators=(',', ':')).encode()
    encoded += b' ' * (-len(encoded) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """Every tensor of an F32/F16 safetensors file, as numpy arrays in the file's own dtype."""
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        start, end = entry['data_offsets']
        out[name] = np.frombuffer(data[start:end], dtype=NUMPY_DTYPES[entry['dtype']]).reshape(entry['shape'])
    return out


def load_hf(path, config, dtype=torch.float32):
    """Builds a GPT2 from a Hugging Face-layout safetensors file."""
    t = read_safetensors(path)
    m = GPT2(config['vocab_size'], config['n_positions'], config['n_embd'], config['n_layer'], config['n_head']).to(dtype)
    g = lambda name: torch.tensor(np.array(t[name]), dtype=dtype)
    with torch.no_grad():
        m.wte.weight.copy_(g('transformer.wte.weight'))
        m.wpe.weight.copy_(g('transformer.wpe.weight'))
        m.ln_f.weight.copy_(g('transformer.ln_f.weight'))
        m.ln_f.bias.copy_(g('transformer.ln_f.bias'))
        for l, b in enumerate(m.blocks):
            p = f'transformer.h.{l}.'
            b.ln_1.weight.copy_(g(p + 'ln_1.weight')); b.ln_1.bias.copy_(g(p + 'ln_1.bias'))
            b.c_attn.weight.copy_(g(p + 'attn.c_attn.weight').T); b.c_attn.bias.copy_(g(p + 'attn.c_attn.bias'))
            b.c_proj.weight.copy_(g(p + 'attn.c_proj.weight').T); b.c_proj.bias.copy_(g(p + 'attn.c_proj.bias'))
            b.ln_2.weight.copy_(g(p + 'ln_2.weight')); b.ln_2.bias.copy_(g(p + 'ln_2.bias'))
            b.c_fc.weight.copy_(g(p + 'mlp.c_fc.weight').T); b.c_fc.bias.copy_(g(p + 'mlp.c_fc.bias'))
            b.mlp_proj.weight.copy_(g(p + 'mlp.c_proj.weight').T); b.mlp_proj.bias.copy_(g(p + 'mlp.c_proj.bias'))
    return m
