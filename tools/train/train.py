"""Trains the bundled GPT-2 on the token streams made by train-tokenizer.ts.

Fixed seeds; AdamW with warm-up and cosine decay; a checkpoint every few minutes so an
interruption loses little (re-running resumes from it). At the end writes config.json and
model.safetensors (Hugging Face GPT-2 layout) into assets/models/brown-gpt2/.

Run: /usr/bin/python3 tools/train/train.py [--steps N] [--d 256] [--layers 4] [--heads 8] [--ctx 128]
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from gpt2 import GPT2, hf_tensors, write_safetensors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
WORK = os.path.join(ROOT, 'tools', 'train', 'work')
OUT = os.path.join(ROOT, 'assets', 'models', 'brown-gpt2')

p = argparse.ArgumentParser()
p.add_argument('--steps', type=int, default=3000)
p.add_argument('--batch', type=int, default=32)
p.add_argument('--ctx', type=int, default=128)
p.add_argument('--d', type=int, default=256)
p.add_argument('--layers', type=int, default=4)
p.add_argument('--heads', type=int, default=8)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--warmup', type=int, default=150)
p.add_argument('--seed', type=int, default=1234)
p.add_argument('--checkpoint-every', type=int, default=200)
p.add_argument('--repeat-share', type=float, default=0.1,
               help='share of rows whose second half repeats the first (a copying curriculum, so induction heads form in a short CPU budget)')
p.add_argument('--benchmark', action='store_true', help='time 10 steps and exit')
args = p.parse_args()

torch.manual_seed(args.seed)
torch.set_num_threads(2)
train = np.fromfile(os.path.join(WORK, 'train.u16'), dtype=np.uint16).astype(np.int64)
val = np.fromfile(os.path.join(WORK, 'val.u16'), dtype=np.uint16).astype(np.int64)
tokenizer = json.load(open(os.path.join(OUT, 'tokenizer.json')))
vocab = len(tokenizer['model']['vocab']) + len(tokenizer['added_tokens'])
eot = tokenizer['added_tokens'][0]['id']

model = GPT2(vocab, args.ctx, args.d, args.layers, args.heads)
decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                        lr=args.lr, betas=(0.9, 0.95))
rng = np.random.default_rng(args.seed)
ckpt_path = os.path.join(WORK, 'checkpoint.pt')
step, log = 0, []
if os.path.exists(ckpt_path) and not args.benchmark:
    state = torch.load(ckpt_path)
    model.load_state_dict(state['model']); opt.load_state_dict(state['opt'])
    step, log = state['step'], state['log']
    rng = np.random.default_rng(args.seed + step)
    print(f'resumed at step {step}')


def lr_at(s):
    if s < args.warmup:
        return args.lr * (s + 1) / args.warmup
    progress = (s - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def batch(data, n):
    starts = rng.integers(0, len(data) - args.ctx - 1, n)
    rows = np.stack([data[s:s + args.ctx + 1] for s in starts])
    # Copying curriculum: some rows are a natural-text segment followed by itself again.
    half = (args.ctx + 1) // 2
    for r in np.nonzero(rng.random(n) < args.repeat_share)[0]:
        segment = rows[r, :half].copy()
        rows[r] = np.concatenate([segment, segment, segment])[:args.ctx + 1]
    x = torch.tensor(rows[:, :-1])
    y = torch.tensor(rows[:, 1:])
    return x, y


@torch.no_grad()
def val_loss(n_batches=20):
    model.eval()
    g = np.random.default_rng(0)
    losses = []
    for _ in range(n_batches):
        starts = g.integers(0, len(val) - args.ctx - 1, 16)
        x = torch.tensor(np.stack([val[s:s + args.ctx] for s in starts]))
        y = torch.tensor(np.stack([val[s + 1:s + args.ctx + 1] for s in starts]))
        losses.append(F.cross_entropy(model(x).view(-1, vocab), y.view(-1)).item())
    model.train()
    return float(np.mean(losses))


t0 = time.time()
tokens_per_step = args.batch * args.ctx
while step < args.steps:
    for group in opt.param_groups:
        group['lr'] = lr_at(step)
    x, y = batch(train, args.batch)
    loss = F.cross_entropy(model(x).view(-1, vocab), y.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    step += 1
    if args.benchmark and step == 10:
        dt = time.time() - t0
        print(f'{10 * tokens_per_step / dt:.0f} tokens/s, {dt / 10:.2f} s/step')
        raise SystemExit
    if step % 50 == 0:
        elapsed = time.time() - t0
        print(f'step {step} loss {loss.item():.3f} lr {lr_at(step):.2e} {step * tokens_per_step / 1e6:.1f}M tokens {elapsed / 60:.1f} min', flush=True)
    if step % args.checkpoint_every == 0 or step == args.steps:
        entry = {'step': step, 'train_loss': loss.item(), 'val_loss': val_loss(), 'minutes': (time.time() - t0) / 60}
        log.append(entry)
        print('checkpoint', entry, flush=True)
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'log': log}, ckpt_path)

os.makedirs(OUT, exist_ok=True)
write_safetensors(os.path.join(OUT, 'model.safetensors'), hf_tensors(model))
config = {
    'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': vocab,
    'n_positions': args.ctx, 'n_ctx': args.ctx, 'n_embd': args.d, 'n_layer': args.layers, 'n_head': args.heads,
    'n_inner': None, 'activation_function': 'gelu_new', 'layer_norm_epsilon': 1e-5,
    'bos_token_id': eot, 'eos_token_id': eot, 'tie_word_embeddings': True,
}
json.dump(config, open(os.path.join(OUT, 'config.json'), 'w'), indent=2)
json.dump({'args': vars(args), 'log': log, 'train_tokens': int(len(train)), 'val_tokens': int(len(val))},
          open(os.path.join(WORK, 'train-log.json'), 'w'), indent=2)
print('wrote', OUT)
