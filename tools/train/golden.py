"""Writes the golden file from the PyTorch model: logits at every position and a few hooks
for three fixed prompts (ids from golden-prompts.ts), computed in float64 from the saved
float32 weights, so the engine's test compares against exact-to-rounding references.

Run: /usr/bin/python3 tools/train/golden.py
"""
import json
import os

import numpy as np
import torch

from gpt2 import load_hf, write_safetensors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'assets', 'models', 'brown-gpt2')
config = json.load(open(os.path.join(OUT, 'config.json')))
prompts = json.load(open(os.path.join(ROOT, 'tools', 'train', 'work', 'golden-prompts.json')))
model = load_hf(os.path.join(OUT, 'model.safetensors'), config, dtype=torch.float64).eval()
L = config['n_layer']
hook_names = ['blocks.0.mlp.hook_post', f'blocks.{L - 1}.attn.hook_pattern', f'blocks.{L - 1}.hook_resid_post']
arrays = {}
with torch.no_grad():
    for k, ids in enumerate(prompts['tokens']):
        hooks = {}
        logits = model(torch.tensor([ids]), hooks)
        arrays[f'p{k}.logits'] = logits[0].numpy()
        arrays[f'p{k}.blocks.0.mlp.hook_post'] = hooks['blocks.0.mlp.hook_post'][0].numpy()
        arrays[f'p{k}.blocks.{L - 1}.attn.hook_pattern'] = hooks[f'blocks.{L - 1}.attn.hook_pattern'][0].numpy()
        # The final block's residual output, before ln_f.
        arrays[f'p{k}.hook_resid_post'] = hooks[f'blocks.{L - 1}.hook_resid_post'][0].numpy()
write_safetensors(os.path.join(OUT, 'golden.safetensors'), {k: v.astype(np.float32) for k, v in arrays.items()})
json.dump({
    'prompts': prompts['prompts'], 'tokens': prompts['tokens'], 'hooks': hook_names,
    'tensors': 'p{k}.logits [T,V], p{k}.<hook> as named; hook_resid_post is blocks.L-1.hook_resid_post',
    'note': 'PyTorch float64 forward from the saved float32 weights (tools/train/golden.py)',
}, open(os.path.join(OUT, 'golden.json'), 'w'), indent=2)
print('wrote golden for', len(prompts['tokens']), 'prompts')
