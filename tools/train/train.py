"""Trains the bundled GPT-2 on the token streams made by train-tokenizer.ts.

Fixed seeds; AdamW with warm-up and cosine decay; a checkpoint every few minutes so an
interruption loses little (re-running resumes from it). At the end writes config.json and
model.safetensors (Hugging Face GPT-2 layout) into assets/models/brown-gpt2/.

Run: /usr/bin/python3 tools/train/train.py [--steps 30000] [--batch 4] [--d 256] [--layers 4] [--heads 8] [--ctx 128]
The defaults are the shipped model's settings. The batch is small because induction heads emerge after
about T·sqrt(B·C) tokens (see the model card), and bfloat16 matrix products keep small batches fast.
"""
import argparse
import json
import math
import os
import resource
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
p.add_argument('--steps', type=int, default=30000)
p.add_argument('--batch', type=int, default=4)
p.add_argument('--ctx', type=int, default=128)
p.add_argument('--d', type=int, default=256)
p.add_argument('--layers', type=int, default=4)
p.add_argument('--heads', type=int, default=8)
p.add_argument('--lr', type=float, default=1e-3)
p.add_argument('--warmup', type=int, default=500)
p.add_argument('--seed', type=int, default=1234)
p.add_argument('--checkpoint-every', type=int, default=1000)
p.add_argument('--repeat-share', type=float, default=0.3,
               help='share of rows carrying a repeated segment (a copying curriculum, so induction heads form in a short CPU budget)')
p.add_argument('--random-share', type=float, default=0.5,
               help='share of those segments made of uniformly random tokens (only induction predicts their repeats) rather than the row\'s own text')
p.add_argument('--bf16', action=argparse.BooleanOptionalAction, default=True,
               help='matrix products in bfloat16 (autocast; weights, optimiser and losses stay float32): about 15x the float32 matmul speed on CPUs with AVX512-BF16')
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
resumed_cpu = 0.0  # CPU seconds of earlier runs
runs = []  # the command line of each run that contributed to the checkpoint
if os.path.exists(ckpt_path) and not args.benchmark:
    state = torch.load(ckpt_path)
    model.load_state_dict(state['model']); opt.load_state_dict(state['opt'])
    step, log = state['step'], state['log']
    rng = np.random.default_rng(args.seed + step)
    resumed_seconds = state['seconds']
    resumed_cpu = state['cpu_seconds']
    runs = state['runs']
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
    # Copying curriculum: in some rows a segment of 8 to 40 tokens (random tokens, or the row's own
    # text) is written again and again after itself, with 0 to 16 tokens of natural text between
    # copies. The repeats of a random segment are predictable only by looking back for the
    # previous occurrence of the current token and copying what followed it: an induction head.
    for r in np.nonzero(rng.random(n) < args.repeat_share)[0]:
        m, s1 = int(rng.integers(8, 41)), int(rng.integers(0, 24))
        if rng.random() < args.random_share:
            rows[r, s1:s1 + m] = rng.integers(0, eot, m)  # every token but <|endoftext|>
        segment = rows[r, s1:s1 + m].copy()
        pos = s1 + m + int(rng.integers(0, 17))
        while pos < args.ctx + 1:
            k = min(m, args.ctx + 1 - pos)
            rows[r, pos:pos + k] = segment[:k]
            pos += m + int(rng.integers(0, 17))
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


@torch.no_grad()
def repeat_losses(n=8, m=50):
    """Mean loss on the first and second copy of n sequences of m random tokens repeated twice
    (the induction check of evaluate.py, small): a second-copy loss far below the first is induction."""
    model.eval()
    g = torch.Generator().manual_seed(7)
    seq = torch.randint(0, eot, (n, m), generator=g)
    x = torch.cat([seq, seq], 1)
    losses = F.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:], reduction='none')
    model.train()
    return float(losses[:, :m - 1].mean()), float(losses[:, m - 1:].mean())


t0 = time.time() - resumed_seconds
tokens_per_step = args.batch * args.ctx
while step < args.steps:
    for group in opt.param_groups:
        group['lr'] = lr_at(step)
    x, y = batch(train, args.batch)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16, enabled=args.bf16):
        logits = model(x)
    loss = F.cross_entropy(logits.float().view(-1, vocab), y.view(-1))
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
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        entry = {'step': step, 'train_loss': loss.item(), 'val_loss': val_loss(), 'minutes': (time.time() - t0) / 60,
                 'cpu_minutes': resumed_cpu / 60 + (cpu.ru_utime + cpu.ru_stime) / 60}
        entry['first_copy_loss'], entry['second_copy_loss'] = repeat_losses()
        log.append(entry)
        print('checkpoint', entry, flush=True)
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'log': log, 'seconds': time.time() - t0, 'cpu_seconds': entry['cpu_minutes'] * 60, 'runs': runs, 'args': vars(args)}, ckpt_path)

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
