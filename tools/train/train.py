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
import sys
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
p.add_argument('--fixed-repeat', action='store_true', help='repeat the first half at a fixed offset (the first runs; positions can solve it, so induction formed slowly)')
p.add_argument('--multi-repeat', action='store_true', help='copying rows repeat a segment several times (a stronger copying signal)')
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
resumed_seconds = 0.0  # wall time of earlier runs, when resuming from a checkpoint
runs = []  # the command line of each run that contributed to the checkpoint
if os.path.exists(ckpt_path) and not args.benchmark:
    state = torch.load(ckpt_path)
    model.load_state_dict(state['model']); opt.load_state_dict(state['opt'])
    step, log = state['step'], state['log']
    rng = np.random.default_rng(args.seed + step)
    resumed_seconds = state.get('seconds', log[-1]['minutes'] * 60 if log else 0.0)
    runs = state.get('runs', [{'from_step': 0, 'args': 'not recorded (checkpoint written before runs were recorded)'}])
    print(f'resumed at step {step} ({resumed_seconds / 60:.1f} min already spent)', flush=True)
runs.append({'from_step': step, 'args': ' '.join(sys.argv[1:]), 'started_utc': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())})


def lr_at(s):
    if s < args.warmup:
        return args.lr * (s + 1) / args.warmup
    progress = (s - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def batch(data, n):
    starts = rng.integers(0, len(data) - args.ctx - 1, n)
    rows = np.stack([data[s:s + args.ctx + 1] for s in starts])
    # Copying curriculum: in some rows a natural-text segment (random length and place) appears again
    # later in the row, at a random distance, so that copying needs content (induction heads), not positions.
    for r in np.nonzero(rng.random(n) < args.repeat_share)[0]:
        if args.fixed_repeat:  # the first runs' variant: the first half repeated at a fixed offset
            half = (args.ctx + 1) // 2
            rows[r] = np.concatenate([rows[r, :half], rows[r, :half], rows[r, :half]])[:args.ctx + 1]
            continue
        if args.multi_repeat:  # the segment again and again after it, with a random gap of natural text between copies
            m, gap, s1 = int(rng.integers(10, 41)), int(rng.integers(0, 11)), int(rng.integers(0, 20))
            segment = rows[r, s1:s1 + m].copy()
            pos = s1 + m + gap
            while pos < args.ctx + 1:
                k = min(m, args.ctx + 1 - pos)
                rows[r, pos:pos + k] = segment[:k]
                pos += m + gap
            continue
        m = int(rng.integers(10, (args.ctx + 1) // 2 + 1))
        s2 = int(rng.integers(m, args.ctx + 2 - m))
        s1 = int(rng.integers(0, s2 - m + 1))
        rows[r, s2:s2 + m] = rows[r, s1:s1 + m].copy()
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


t0 = time.time() - resumed_seconds
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
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'log': log, 'seconds': time.time() - t0, 'runs': runs, 'args': vars(args)}, ckpt_path)

os.makedirs(OUT, exist_ok=True)
write_safetensors(os.path.join(OUT, 'model.safetensors'), hf_tensors(model))
config = {
    'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': vocab,
    'n_positions': args.ctx, 'n_ctx': args.ctx, 'n_embd': args.d, 'n_layer': args.layers, 'n_head': args.heads,
    'n_inner': None, 'activation_function': 'gelu_new', 'layer_norm_epsilon': 1e-5,
    'bos_token_id': eot, 'eos_token_id': eot, 'tie_word_embeddings': True,
}
json.dump(config, open(os.path.join(OUT, 'config.json'), 'w'), indent=2)
json.dump({'args': vars(args), 'runs': runs, 'log': log, 'train_tokens': int(len(train)), 'val_tokens': int(len(val))},
          open(os.path.join(WORK, 'train-log.json'), 'w'), indent=2)
print('wrote', OUT)
