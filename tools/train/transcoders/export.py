"""Exports the trained transcoders (tools/train/work/transcoders/checkpoint.pt) to
assets/models/brown-gpt2/transcoders/ in circuit-tracer's layout: `config.yaml` plus
`layer_{l}.safetensors` per layer with `W_enc` [F, d], `W_dec` [F, d], `b_enc` [F], `b_dec` [d],
`W_skip` [d, d] and `threshold` [F], stored as F16 (half the size; the rounding costs nothing
measurable, see the card). Training's BatchTopK becomes a JumpReLU here: one threshold per layer,
calibrated so that the mean number of active features per token on calibration tokens from the
training split is --target-l0 (30, a little under k = 32, so held-out text stays at or under 32). The per-layer input/target scales used in training are folded into the
weights, so the files read raw `ln2.hook_normalized` and write raw `hook_mlp_out`.

Run: /usr/bin/python3 tools/train/transcoders/export.py [--calibration-windows 64]
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from common import CKPT_DIR, OUT_DIR, Transcoders, load_model, mlp_io, tokens, write_safetensors

p = argparse.ArgumentParser()
p.add_argument('--calibration-windows', type=int, default=64, help='windows of the training split used to set the thresholds')
p.add_argument('--dtype', default='F16', choices=['F16', 'F32'])
p.add_argument('--target-l0', type=float, default=30,
               help='mean active features per token on the calibration tokens (a little under k: held-out text ran about 2%% denser)')
args = p.parse_args()
torch.set_num_threads(2)

state = torch.load(os.path.join(CKPT_DIR, 'checkpoint.pt'))
targs = state['args']
model, config = load_model()
L, d = config['n_layer'], config['n_embd']
tc = Transcoders(L, d, targs['features'], targs['k'])
tc.load_state_dict(state['tc'])
ctx = targs['ctx']

# Calibration: windows from the training split (a fixed generator, not the training stream's).
train = tokens('train')
rng = np.random.default_rng(4321)
starts = rng.integers(0, len(train) - ctx, args.calibration_windows)
ids = torch.tensor(np.stack([train[s:s + ctx] for s in starts]))
with torch.no_grad():
    x, _ = mlp_io(model, ids)  # float32
    z = tc.pre(x / tc.x_scale[:, None, None])  # [L, N, F], scaled units: thresholds are scale-free
    N = z.shape[1]
    thresholds = []
    for l in range(L):
        flat = z[l].flatten()
        kth = flat.topk(int(round(args.target_l0 * N))).values[-1]  # the (L0·N)-th largest pre-activation
        thresholds.append(max(float(kth), 0.0))

os.makedirs(OUT_DIR, exist_ok=True)
entries = []
total_bytes = 0
with torch.no_grad():
    for l in range(L):
        sx, sy = float(tc.x_scale[l]), float(tc.y_scale[l])
        arrays = {
            'W_enc': (tc.W_enc[l] / sx).numpy(),          # z = (x / sx) W_encᵀ + b_enc
            'b_enc': tc.b_enc[l].numpy(),
            'threshold': np.full(targs['features'], thresholds[l], dtype=np.float32),
            'W_dec': (tc.W_dec[l] * sy).numpy(),          # ŷ = sy · (f W_dec + b_dec + (x / sx) W_skipᵀ)
            'b_dec': (tc.b_dec[l] * sy).numpy(),
            'W_skip': (tc.W_skip[l] * (sy / sx)).numpy(),
        }
        name = f'layer_{l}.safetensors'
        write_safetensors(os.path.join(OUT_DIR, name), arrays, args.dtype,
                          {'layer': str(l), 'activation_function': 'jump_relu', 'k': str(targs['k'])})
        total_bytes += os.path.getsize(os.path.join(OUT_DIR, name))
        entries.append((l, name))

yaml = [
    '# Per-layer skip transcoders for brown-gpt2, in circuit-tracer\'s config layout.',
    '# Written by tools/train/transcoders/export.py; quality in TRANSCODERS_CARD.md.',
    'model_name: "brown-gpt2"',
    'feature_input_hook: "ln2.hook_normalized"',
    'feature_output_hook: "hook_mlp_out"',
    'activation_function: jump_relu',
    '',
    'transcoders:',
]
for l, name in entries:
    yaml += [f'  - id: "brown-gpt2-transcoder-{l}"', f'    layer: {l}', f'    filepath: "{name}"', '']
open(os.path.join(OUT_DIR, 'config.yaml'), 'w').write('\n'.join(yaml))
json.dump({'thresholds': thresholds, 'target_l0': args.target_l0, 'calibration_windows': args.calibration_windows, 'dtype': args.dtype,
           'bytes': total_bytes, 'exported_utc': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime()),
           'training': {'args': targs, 'steps': state['step'], 'tokens': state['log'][-1]['tokens'] if state['log'] else 0,
                        'minutes': state['seconds'] / 60, 'cpu_minutes': state['cpu_seconds'] / 60, 'runs': state['runs'],
                        'log': state['log']}},
          open(os.path.join(CKPT_DIR, 'export.json'), 'w'), indent=1)
print(f'wrote {len(entries)} layers to {OUT_DIR} ({total_bytes / 1e6:.2f} MB), thresholds {[round(t, 3) for t in thresholds]}')
