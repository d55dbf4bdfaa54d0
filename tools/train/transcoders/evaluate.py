"""Measures the shipped transcoders (assets/models/brown-gpt2/transcoders/, read back from the
exported F16 files) and writes TRANSCODERS_CARD.md and evaluation.json next to them:
per layer on held-out text (the validation split) the fraction of variance unexplained (FVU), the
mean L0 and the share of dead features; for the replacement model (every MLP replaced by its
transcoder, error terms dropped, layers in sequence) the next-token loss against the model's, the
KL divergence, top-1 agreement, and the model card's induction test; and the per-layer FVU and L0
on a fixed check text, which tests/server/transcoders/shipped.test.ts recomputes through the
engine and the TypeScript loader.

Run: /usr/bin/python3 tools/train/transcoders/evaluate.py   (after export.py)
"""
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from common import CKPT_DIR, OUT_DIR, load_exported, load_model, run, tokens

QUICK = os.environ.get('EVAL_QUICK') == '1'  # a smoke test on a few windows
torch.set_num_threads(int(os.environ.get('EVAL_THREADS', '1')))
t_start = time.time()
model, config = load_model()
V, ctx, L, d = config['vocab_size'], config['n_positions'], config['n_layer'], config['n_embd']
tc_config, layers = load_exported()
W = [{k: torch.tensor(v, dtype=torch.float32) for k, v in p.items()} for p in layers]
Fn = W[0]['W_enc'].shape[0]
export = json.load(open(os.path.join(CKPT_DIR, 'export.json')))
train_info = export['training']
k = train_info['args']['k']


def transcode(l, x):
    p = W[l]
    z = x @ p['W_enc'].T + p['b_enc']
    f = z * (z > p['threshold'])
    return f, f @ p['W_dec'] + p['b_dec'] + x @ p['W_skip'].T


val = tokens('val')
n_windows = 8 if QUICK else 160
windows = torch.tensor(np.stack([val[w * ctx:(w + 1) * ctx] for w in range(n_windows)]))
targets = torch.tensor(np.stack([val[w * ctx + 1:(w + 1) * ctx + 1] for w in range(n_windows)]))

# ---- 1. per layer, on the model's own activations ----
err = torch.zeros(L, dtype=torch.float64); err_skip = torch.zeros(L, dtype=torch.float64)
err_later = torch.zeros(L, dtype=torch.float64)
sum_y = torch.zeros(L, d, dtype=torch.float64); sum_y2 = torch.zeros(L, dtype=torch.float64)
sum_yl = torch.zeros(L, d, dtype=torch.float64); sum_yl2 = torch.zeros(L, dtype=torch.float64)
l0 = torch.zeros(L, dtype=torch.float64); fired = torch.zeros(L, Fn, dtype=torch.bool)
n_tok = 0; n_later = 0
model_nll = 0.0; repl_nll = 0.0; kl = 0.0; agree = 0
with torch.no_grad():
    for b in range(0, n_windows, 16):
        ids, tgt = windows[b:b + 16], targets[b:b + 16]
        hooks = {}
        logits = run(model, ids, hooks=hooks)
        for l in range(L):
            x = hooks[f'blocks.{l}.ln2.hook_normalized'].reshape(-1, d)
            y = hooks[f'blocks.{l}.hook_mlp_out'].reshape(-1, d).double()
            f, y_hat = transcode(l, x)
            e = (y - y_hat.double()).pow(2).sum(1)
            err[l] += e.sum()
            later = torch.arange(len(e)) % ctx != 0  # positions after the first of each window
            err_later[l] += e[later].sum()
            sum_yl[l] += y[later].sum(0); sum_yl2[l] += y[later].pow(2).sum()
            err_skip[l] += (y - (x @ W[l]['W_skip'].T).double() - W[l]['b_dec'].double()).pow(2).sum()
            sum_y[l] += y.sum(0); sum_y2[l] += y.pow(2).sum()
            l0[l] += (f > 0).sum()
            fired[l] |= (f > 0).any(0)
        n_tok += ids.numel(); n_later += ids.numel() - ids.shape[0]
        # ---- 2. the replacement model: every MLP output replaced, in sequence ----
        repl = run(model, ids, replace=lambda l, x, y: transcode(l, x)[1])
        lp, lq = logits.log_softmax(-1), repl.log_softmax(-1)
        model_nll += F.nll_loss(lp.reshape(-1, V), tgt.reshape(-1), reduction='sum').item()
        repl_nll += F.nll_loss(lq.reshape(-1, V), tgt.reshape(-1), reduction='sum').item()
        kl += (lp.exp() * (lp - lq)).sum().item()
        agree += (logits.argmax(-1) == repl.argmax(-1)).sum().item()
var = sum_y2 - sum_y.pow(2).sum(1) / n_tok
var_later = sum_yl2 - sum_yl.pow(2).sum(1) / n_later
per_layer = [{'fvu': float(err[l] / var[l]), 'fvu_after_position_0': float(err_later[l] / var_later[l]),
              'fvu_skip_only': float(err_skip[l] / var[l]), 'l0': float(l0[l] / n_tok),
              'dead_share': float(1 - fired[l].float().mean())} for l in range(L)]
replacement = {'model_loss': model_nll / n_tok, 'replacement_loss': repl_nll / n_tok, 'kl': kl / n_tok, 'top1_agreement': agree / n_tok}


# each layer replaced alone: where the loss goes
def single_layer_losses():
    out = []
    with torch.no_grad():
        for only in range(L):
            nll = 0.0
            for b in range(0, n_windows, 16):
                lg = run(model, windows[b:b + 16], replace=lambda l, x, y: transcode(l, x)[1] if l == only else y)
                nll += F.cross_entropy(lg.reshape(-1, V), targets[b:b + 16].reshape(-1), reduction='sum').item()
            out.append(nll / n_tok)
    return out


single = single_layer_losses()

# ---- 3. induction: the model card's test (32 sequences of 50 random tokens, repeated) ----
n, n_seq = 50, 32
g = np.random.default_rng(2024)
half = g.integers(0, V - 1, size=(n_seq, n))
seqs = torch.tensor(np.concatenate([half, half], axis=1))
induction = {}
with torch.no_grad():
    for name, replace in [('model', None), ('replacement', lambda l, x, y: transcode(l, x)[1])]:
        lg = run(model, seqs, replace=replace)
        losses = F.cross_entropy(lg[:, :-1].reshape(-1, V), seqs[:, 1:].reshape(-1), reduction='none').view(n_seq, 2 * n - 1)
        induction[name] = {'first_copy_loss': losses[:, :n - 1].mean().item(), 'second_copy_loss': losses[:, n:].mean().item()}

# ---- 4. the fixed check text for the TypeScript test ----
check_ids = val[:64].tolist()
with torch.no_grad():
    hooks = {}
    run(model, torch.tensor([check_ids]), hooks=hooks)
    check = []
    for l in range(L):
        x = hooks[f'blocks.{l}.ln2.hook_normalized'][0]
        y = hooks[f'blocks.{l}.hook_mlp_out'][0].double()
        f, y_hat = transcode(l, x)
        fvu = (y - y_hat.double()).pow(2).sum() / (y - y.mean(0)).pow(2).sum()
        check.append({'fvu': float(fvu), 'l0': float((f > 0).sum(1).double().mean())})

size = sum(os.path.getsize(os.path.join(OUT_DIR, t['filepath'])) for t in tc_config['transcoders'])
results = {'per_layer': per_layer, 'replacement': replacement, 'single_layer_replacement_loss': single, 'induction': induction,
           'check': {'tokens': check_ids, 'per_layer': check}, 'held_out_tokens': n_tok, 'features': Fn, 'k': k,
           'bytes': size, 'thresholds': export['thresholds'], 'seconds': time.time() - t_start}
json.dump(results, open(os.path.join(OUT_DIR, 'evaluation.json'), 'w'), indent=1)
print(json.dumps({k2: v for k2, v in results.items() if k2 != 'check'}, indent=1))
if QUICK:
    raise SystemExit

# ---- the card ----
ta = train_info['args']
runs = train_info['runs']
aim_fvu = all(p['fvu'] <= 0.15 for p in per_layer)
aim_l0 = all(p['l0'] <= 32.5 for p in per_layer)
delta = replacement['replacement_loss'] - replacement['model_loss']
fence = '```'
card = f"""# brown-gpt2 transcoders

Per-layer **skip transcoders** for every MLP of the bundled model `brown-gpt2` ({L} layers, width {d}, MLP width
{4 * d}), so that circuits can be traced over sparse features instead of polysemantic neurons. Layer l's transcoder
reads `blocks.{{l}}.ln2.hook_normalized` (the MLP's input, after γ and β) and predicts `blocks.{{l}}.hook_mlp_out`:

    z = x W_encᵀ + b_enc,   f = z · [z > θ]   (JumpReLU),   ŷ = f W_dec + b_dec + x W_skipᵀ

{Fn} features per layer ({Fn // (4 * d)}× the MLP width, {Fn // d}× the model width), {min(q['l0'] for q in per_layer):.0f} to {max(q['l0'] for q in per_layer):.0f} active per token on held-out text.

## Files (circuit-tracer's layout)
`config.yaml` (circuit-tracer's transcoder config: `model_name`, `feature_input_hook`, `feature_output_hook`,
`transcoders: [{{id, layer, filepath}}]`, plus `activation_function: jump_relu`) and `layer_{{l}}.safetensors` with
`W_enc` [{Fn}, {d}], `W_dec` [{Fn}, {d}], `b_enc` [{Fn}], `b_dec` [{d}], `W_skip` [{d}, {d}], `threshold` [{Fn}], all F16:
**{size / 1e6:.1f} MB** for the four layers (F32 would be twice that; the F16 rounding is inside every figure
below, since they are measured on the exported files). `W_dec` rows are the features' output directions in
`hook_mlp_out` units; feature activations are in units of the pre-activation.

## Why BatchTopK training, JumpReLU files
Training used **BatchTopK** (Bussmann et al. 2024): in each batch, per layer, only the k·N largest pre-activations
of the N tokens stay (k = {k} on average per token). Like TopK it fixes the sparsity directly, so no L1 or L0
penalty had to be tuned in a budget that allowed one run, and AuxK (Gao et al. 2024) keeps features alive; unlike
per-token TopK it lets easy tokens use fewer features and hard ones more. For use, one threshold θ per layer
replaces the batch cut: θ is the value that {export['target_l0']:g} of every {Fn} pre-activations exceed on {export['calibration_windows']} windows of
training text (a little under k, since held-out text ran about 2% denser than the calibration text at θ set for exactly k)
(θ = {', '.join(f'{t:.3f}' for t in export['thresholds'])} by layer). A feature's activation then depends on its own pre-activation only,
which is what an attribution graph needs (a TopK feature's activation would also depend on every other feature
of its token through the cut), and a JumpReLU with a `threshold` tensor is a form circuit-tracer loads natively.
The skip connection W_skip (a linear map of the input, as in Paulo et al. 2025) was initialised to the
least-squares linear fit of the MLP, so features only learn what a linear map misses.

## Training
`tools/train/transcoders/train.py` (PyTorch 1.13, CPU): all four layers at once from one forward of the frozen
model per batch (matrix products in bfloat16), activations computed on the fly from random 128-token windows of the
training split (no activation cache on disk); Adam, learning rate {ta['lr']} with {ta['warmup']} warm-up steps, constant, then
linear decay to 0 over the last {1 - ta['decay_from']:.0%} of the run; batch {ta['batch']} × {ta['ctx']} tokens; decoder rows kept at unit
norm; AuxK (k_aux = {ta['aux_k']}, weight {ta['aux_coef']:.4f}) on features silent for {ta['dead_tokens']:,.0f} tokens; inputs and
targets divided by one scale per layer during training and folded back into the weights on export; seed {ta['seed']}.
The gradient of the encoder is formed only for the picked (token, feature) pairs (a sparse product), the decoder
is an embedding bag over the picked rows.

The run had a wall-clock budget (`--minutes {ta['minutes']}`; the schedule runs on elapsed time) because the 2-core machine was
shared with other jobs: it saw **{train_info['tokens'] / 1e6:.2f} M tokens** in {train_info['steps']} steps, {train_info['minutes']:.1f} minutes wall time,
{train_info['cpu_minutes']:.1f} CPU minutes. Commands: {'; '.join('`train.py ' + r['args'] + '` (from step ' + str(r['from_step']) + ')' for r in runs)}.

| step | tokens | FVU by layer (training batches, running mean, before export) | L0 by layer | dead share by layer | minutes |
| --- | --- | --- | --- | --- | --- |
""" + '\n'.join(f"| {e['step']} | {e['tokens'] / 1e6:.2f} M | {' / '.join(f'{v:.3f}' for v in e['fvu_ema'])} | {' / '.join(f'{v:.1f}' for v in e['l0_ema'])} | {' / '.join(f'{v:.1%}' for v in e['dead_share'])} | {e['minutes']:.1f} |"
                for e in train_info['log'][::max(1, len(train_info['log']) // 12)] + ([train_info['log'][-1]] if len(train_info['log']) % max(1, len(train_info['log']) // 12) != 1 else [])) + f"""

## Quality (`tools/train/transcoders/evaluate.py`, on the exported F16 files)
Held-out text: the first {n_windows} non-overlapping windows of {ctx} tokens of the validation split ({n_tok:,} tokens).
FVU = Σ‖y − ŷ‖² / Σ‖y − ȳ‖² over those tokens; L0 = mean active features per token; dead = features that never fired
on those {n_tok:,} tokens. "Skip only" is the FVU of the linear part alone (x W_skipᵀ + b_dec), for scale: W_skip
starts as the least-squares linear fit of the MLP and is then trained together with the features, so on its own it
can explain less than the mean (FVU above 1) while the sum is accurate.

| layer | FVU | FVU, positions after the first | skip only | mean L0 | dead features |
| --- | --- | --- | --- | --- | --- |
""" + '\n'.join(f"| {l} | **{p['fvu']:.3f}** | {p['fvu_after_position_0']:.3f} | {p['fvu_skip_only']:.3f} | {p['l0']:.1f} | {p['dead_share']:.1%} |" for l, p in enumerate(per_layer)) + f"""

Dead features are many (a short run: {train_info['tokens'] / 1e6:.1f} M tokens for {Fn} features per layer; AuxK brought the share
down from its peak, see the training table, but had not finished): the live ones carry the reconstruction.

Aim: FVU ≤ 0.15 per layer at L0 ≤ 32: {'met' if aim_fvu and aim_l0 else 'not met' + (' (FVU above 0.15 on layer ' + ', '.join(str(l) for l, p in enumerate(per_layer) if p['fvu'] > 0.15) + ')' if not aim_fvu else '') + (' (L0 above 32)' if not aim_l0 else '')}.

**Replacement model** (every MLP replaced by its transcoder, layer after layer, error terms dropped), same tokens:

| | next-token loss (nats) |
| --- | --- |
| brown-gpt2 | {replacement['model_loss']:.3f} |
| replacement model | **{replacement['replacement_loss']:.3f}** (Δ = {delta:+.3f}) |
""" + '\n'.join(f"| only layer {l} replaced | {s:.3f} ({s - replacement['model_loss']:+.3f}) |" for l, s in enumerate(single)) + f"""

KL(model ‖ replacement) = **{replacement['kl']:.3f}** nats per token; top-1 agreement (same argmax next token) = **{replacement['top1_agreement']:.1%}**.
Aim: replacement loss within 0.5 nats of the model's: {'met' if delta <= 0.5 else 'not met'}.

**Induction** (the model card's test: 32 sequences of 50 uniformly random tokens, each repeated twice):

| | first copy loss | second copy loss |
| --- | --- | --- |
| brown-gpt2 | {induction['model']['first_copy_loss']:.2f} | {induction['model']['second_copy_loss']:.2f} |
| replacement model | {induction['replacement']['first_copy_loss']:.2f} | {induction['replacement']['second_copy_loss']:.2f} |

Induction survives in the replacement model (the second copy is still predicted far better than the first) but
weaker than in the model. A likely reason (not measured here): repeated random tokens are far from the training text the transcoders saw, so their
errors on such tokens are larger; a graph of an induction prompt will then carry more of it in error nodes.

**Check text** (`evaluation.json` → `check`: the first 64 tokens of the validation split; recomputed through the
engine and the TypeScript loader by `tests/server/transcoders/shipped.test.ts`, so regenerated weights cannot drift
from this card unnoticed): FVU {' / '.join(f"{c['fvu']:.3f}" for c in check)}, L0 {' / '.join(f"{c['l0']:.1f}" for c in check)} by layer.

## Reproduce
{fence}sh
bash tools/train/transcoders/run.sh
{fence}
(corpus documents → token streams with the shipped tokenizer → `train.py` → `export.py` → `evaluate.py`; resumable:
`train.py` continues from `tools/train/work/transcoders/checkpoint.pt`, delete it to start afresh). PyTorch's CPU kernels
and a time-budgeted schedule make a re-run agree closely, not exactly.
"""
open(os.path.join(OUT_DIR, 'TRANSCODERS_CARD.md'), 'w').write(card)
print(f'wrote the card; evaluation took {time.time() - t_start:.0f} s')
