"""Trains per-layer skip transcoders for every MLP of the bundled model (brown-gpt2), all layers
at once from one forward of the frozen model per batch: input `blocks.{l}.ln2.hook_normalized`
(after γ and β), target `blocks.{l}.hook_mlp_out`. Activations are computed on the fly from the
training token stream (no activation cache on disk). Sparsity is BatchTopK (k features per token on
average, the cut taken over the whole batch), which becomes a JumpReLU with one calibrated threshold
per layer at export (export.py), so a feature's activation depends on its own pre-activation only.
AuxK revives features that stop firing. Checkpoints to tools/train/work/transcoders/checkpoint.pt and
resumes from it when it exists (delete it to start afresh).

Run: /usr/bin/python3 tools/train/transcoders/train.py [--features 2048] [--k 32] [--tokens 6000000]
(after the corpus is tokenized: see run.sh, the one documented command)
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

from common import CKPT_DIR, Transcoders, batch_threshold, load_model, mlp_io, sparse_forward, tokens

p = argparse.ArgumentParser()
p.add_argument('--features', type=int, default=2048, help='features per layer (2x d_mlp, 8x d_model)')
p.add_argument('--k', type=int, default=32, help='mean active features per token (BatchTopK)')
p.add_argument('--tokens', type=float, default=8e6, help='training tokens at most (each step reads batch x ctx)')
p.add_argument('--minutes', type=float, default=0,
               help='wall-clock budget: when > 0 the learning-rate schedule runs on elapsed time instead of steps and '
                    'training stops when the budget is spent (for a shared machine whose speed is unknown in advance)')
p.add_argument('--batch', type=int, default=16, help='windows per step')
p.add_argument('--ctx', type=int, default=128)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--warmup', type=int, default=100)
p.add_argument('--decay-from', type=float, default=0.7, help='share of the run (steps or minutes) after which the learning rate falls linearly to 0')
p.add_argument('--aux-coef', type=float, default=1 / 32, help="AuxK loss weight (Gao et al. 2024's 1/32)")
p.add_argument('--aux-k', type=int, default=256)
p.add_argument('--dead-tokens', type=float, default=3e5, help='a feature silent for this many tokens counts as dead for AuxK')
p.add_argument('--seed', type=int, default=1234)
p.add_argument('--checkpoint-every', type=int, default=200)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--bf16', action=argparse.BooleanOptionalAction, default=True,
               help='matrix products in bfloat16 (autocast); parameters, optimiser and losses stay float32')
p.add_argument('--benchmark', action='store_true', help='time 10 steps and exit')
args = p.parse_args()

torch.manual_seed(args.seed)
torch.set_num_threads(args.threads)
os.makedirs(CKPT_DIR, exist_ok=True)
ckpt_path = os.path.join(CKPT_DIR, 'checkpoint.pt')
model, config = load_model()
for q in model.parameters():
    q.requires_grad_(False)
L, d = config['n_layer'], config['n_embd']
train = tokens('train')
steps = int(args.tokens // (args.batch * args.ctx))
N = args.batch * args.ctx
tc = Transcoders(L, d, args.features, args.k)
opt = torch.optim.Adam(tc.parameters(), lr=args.lr, betas=(0.9, 0.999))
since_fired = torch.zeros(L, args.features)  # tokens since each feature last fired
step, log, runs, resumed_seconds, resumed_cpu = 0, [], [], 0.0, 0.0


def windows(rng, n):
    starts = rng.integers(0, len(train) - args.ctx, n)
    return torch.tensor(np.stack([train[s:s + args.ctx] for s in starts]))


@torch.no_grad()
def activations(rng):
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=args.bf16):
        x, y = mlp_io(model, windows(rng, args.batch))
    return x.float(), y.float()


if os.path.exists(ckpt_path) and not args.benchmark:
    state = torch.load(ckpt_path)
    tc.load_state_dict(state['tc']); opt.load_state_dict(state['opt'])
    step, log, runs = state['step'], state['log'], state['runs']
    since_fired = state['since_fired']
    resumed_seconds, resumed_cpu = state['seconds'], state['cpu_seconds']
    if state['args']['features'] != args.features or state['args']['k'] != args.k:
        sys.exit(f'{ckpt_path} was trained with --features {state["args"]["features"]} --k {state["args"]["k"]}; delete it to start afresh')
    print(f'resumed at step {step} ({resumed_seconds / 60:.1f} min already spent)', flush=True)
else:
    # Scales and a good start: per-layer scalar scales so inputs and targets have unit RMS per
    # dimension, and the skip connection initialised to the least-squares linear map from input
    # to output (features then learn what the linear part misses).
    rng = np.random.default_rng(args.seed - 1)
    xs, ys = zip(*(activations(rng) for _ in range(8)))
    x, y = torch.cat(xs, 1).double(), torch.cat(ys, 1).double()
    with torch.no_grad():
        tc.x_scale.copy_(x.pow(2).mean((1, 2)).sqrt())
        tc.y_scale.copy_((y - y.mean(1, keepdim=True)).pow(2).mean((1, 2)).sqrt())
        for l in range(L):
            xa = torch.cat([x[l] / tc.x_scale[l], torch.ones(x.shape[1], 1, dtype=torch.float64)], 1)
            sol = torch.linalg.solve(xa.T @ xa + 1e-3 * torch.eye(d + 1, dtype=torch.float64), xa.T @ (y[l] / tc.y_scale[l]))
            tc.W_skip[l] = sol[:d].T.float()
            tc.b_dec[l] = sol[d].float()
            r = y[l] / tc.y_scale[l] - xa @ sol
            print(f'layer {l}: |x| rms {tc.x_scale[l]:.3f}, |y| rms {tc.y_scale[l]:.3f}, FVU of the linear skip alone {r.pow(2).sum() / (y[l] / tc.y_scale[l] - (y[l] / tc.y_scale[l]).mean(0)).pow(2).sum():.3f}', flush=True)
runs.append({'from_step': step, 'args': ' '.join(sys.argv[1:]), 'started_utc': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())})


def progress(s):
    """Share of the run done: by steps, or by wall-clock minutes with --minutes."""
    done = s / steps
    if args.minutes > 0:
        done = max(done, (time.time() - t0) / 60 / args.minutes)
    return min(1.0, done)


def lr_at(s):
    if s < args.warmup:
        return args.lr * (s + 1) / args.warmup
    p = progress(s)
    return args.lr if p < args.decay_from else args.lr * max(0.0, (1 - p) / (1 - args.decay_from))


t0 = time.time() - resumed_seconds
gen = torch.Generator().manual_seed(args.seed + step)
rng = np.random.default_rng(args.seed + step)
fvu_ema, l0_ema = torch.full((L,), float('nan')), torch.full((L,), float('nan'))
while step < steps and progress(step) < 1:
    for group in opt.param_groups:
        group['lr'] = lr_at(step)
    x, y = activations(rng)
    x = x / tc.x_scale[:, None, None]
    y = y / tc.y_scale[:, None, None]
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=args.bf16):
        z = tc.pre(x).float()  # dense encoder pass without grad; the gradient is formed sparsely
    t = batch_threshold(z, args.k, generator=gen)
    active = z > t[:, None, None]
    skip = tc.b_dec.unsqueeze(1) + x @ tc.W_skip.transpose(1, 2)
    y_hat = skip + sparse_forward(tc, x, z, active)
    err = (y - y_hat).pow(2).sum((1, 2))
    var = (y - y.mean(1, keepdim=True)).pow(2).sum((1, 2))
    fvu = err / var
    loss = fvu.sum()
    # AuxK: the dead features' top pre-activations try to explain the residual error, so they
    # receive gradient and come back to life.
    fired = active.any(1)
    since_fired = torch.where(fired, torch.zeros_like(since_fired), since_fired + N)
    dead = since_fired > args.dead_tokens
    aux_total = 0.0
    for l in range(L):
        dead_idx = dead[l].nonzero().squeeze(1)
        if len(dead_idx) == 0:
            continue
        # Only the dead features' pre-activations, recomputed with grad (cheap while few are dead).
        zd = torch.addmm(tc.b_enc[l, dead_idx], x[l], tc.W_enc[l, dead_idx].T)
        vals, idx = zd.topk(min(args.aux_k, len(dead_idx)), dim=1)
        acts = torch.zeros_like(zd).scatter(1, idx, vals.relu())
        e = (y[l] - y_hat[l]).detach()
        e_hat = acts @ tc.W_dec[l, dead_idx]
        aux_total = aux_total + (e - e_hat).pow(2).sum() / (e - e.mean(0)).pow(2).sum().clamp_min(1e-8)
    if torch.is_tensor(aux_total):
        loss = loss + args.aux_coef * aux_total
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(tc.parameters(), 1.0)
    opt.step()
    tc.normalise_decoder()
    with torch.no_grad():
        tc.threshold.copy_(t if step == 0 else 0.99 * tc.threshold + 0.01 * t)
    step += 1
    l0 = active.sum(2).float().mean(1)
    fvu_ema = torch.where(torch.isnan(fvu_ema), fvu.detach(), 0.95 * fvu_ema + 0.05 * fvu.detach())
    l0_ema = torch.where(torch.isnan(l0_ema), l0, 0.95 * l0_ema + 0.05 * l0)
    if args.benchmark and step == 10:
        dt = time.time() - t0
        print(f'{10 * N / dt:.0f} tokens/s, {dt / 10:.2f} s/step; {steps} steps would take {steps * dt / 10 / 60:.0f} min')
        raise SystemExit
    if step % 25 == 0:
        dead_share = (since_fired > args.dead_tokens).float().mean(1)
        print(f'step {step}/{steps} {step * N / 1e6:.2f}M tokens lr {lr_at(step):.1e} fvu {" ".join(f"{v:.3f}" for v in fvu_ema)} '
              f'L0 {" ".join(f"{v:.1f}" for v in l0_ema)} dead {" ".join(f"{v:.1%}" for v in dead_share)} '
              f'{(time.time() - t0) / 60:.1f} min', flush=True)
    if step % args.checkpoint_every == 0 or step == steps or progress(step) >= 1:
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        entry = {'step': step, 'tokens': step * N, 'fvu_ema': fvu_ema.tolist(), 'l0_ema': l0_ema.tolist(),
                 'dead_share': (since_fired > args.dead_tokens).float().mean(1).tolist(),
                 'minutes': (time.time() - t0) / 60, 'cpu_minutes': resumed_cpu / 60 + (cpu.ru_utime + cpu.ru_stime) / 60}
        log.append(entry)
        torch.save({'tc': tc.state_dict(), 'opt': opt.state_dict(), 'step': step, 'log': log, 'runs': runs,
                    'since_fired': since_fired, 'seconds': time.time() - t0, 'cpu_seconds': entry['cpu_minutes'] * 60,
                    'args': vars(args), 'steps': steps}, ckpt_path + '.tmp')
        os.replace(ckpt_path + '.tmp', ckpt_path)  # never a half-written checkpoint
        print('checkpoint', step, flush=True)
print('done: run export.py next')
