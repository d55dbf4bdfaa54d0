"""Writes the model in tools/train/work/checkpoint.pt to assets/models/brown-gpt2/ (config.json,
model.safetensors) and work/train-log.json, exactly as train.py does when it finishes. Use it when
training had to be stopped early: the last checkpoint becomes the shipped model.

Run: /usr/bin/python3 tools/train/export.py [--heads 8]   (heads are not visible in the weights'
shapes of old checkpoints; newer checkpoints store their arguments)
"""
import argparse
import json
import os

import numpy as np
import torch

from gpt2 import GPT2, hf_tensors, write_safetensors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
WORK = os.path.join(ROOT, 'tools', 'train', 'work')
OUT = os.path.join(ROOT, 'assets', 'models', 'brown-gpt2')
p = argparse.ArgumentParser()
p.add_argument('--heads', type=int, default=8)
p.add_argument('--checkpoint', default=os.path.join(WORK, 'checkpoint.pt'))
cli = p.parse_args()

state = torch.load(cli.checkpoint)
sd = state['model']
V, d = sd['wte.weight'].shape
ctx = sd['wpe.weight'].shape[0]
layers = len({k.split('.')[1] for k in sd if k.startswith('blocks.')})
heads = state.get('args', {}).get('heads', cli.heads)
model = GPT2(V, ctx, d, layers, heads)
model.load_state_dict(sd)
os.makedirs(OUT, exist_ok=True)
write_safetensors(os.path.join(OUT, 'model.safetensors'), hf_tensors(model))
tokenizer = json.load(open(os.path.join(OUT, 'tokenizer.json')))
eot = tokenizer['added_tokens'][0]['id']
config = {
    'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': int(V),
    'n_positions': int(ctx), 'n_ctx': int(ctx), 'n_embd': int(d), 'n_layer': layers, 'n_head': heads,
    'n_inner': None, 'activation_function': 'gelu_new', 'layer_norm_epsilon': 1e-5,
    'bos_token_id': eot, 'eos_token_id': eot, 'tie_word_embeddings': True,
}
json.dump(config, open(os.path.join(OUT, 'config.json'), 'w'), indent=2)
args = dict(state.get('args', {}))
args['scheduled_steps'] = args.get('steps', state['step'])  # the schedule's length
args['steps'] = state['step']  # the shipped model is the checkpoint at this step
train_tokens = os.path.getsize(os.path.join(WORK, 'train.u16')) // 2
val_tokens = os.path.getsize(os.path.join(WORK, 'val.u16')) // 2
json.dump({'args': args, 'runs': state.get('runs', []), 'log': state['log'], 'exported_from_checkpoint': True,
           'train_tokens': train_tokens, 'val_tokens': val_tokens}, open(os.path.join(WORK, 'train-log.json'), 'w'), indent=2)
print(f"exported step {state['step']} to {OUT}")
