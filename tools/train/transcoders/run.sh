#!/usr/bin/env bash
# Trains, exports and evaluates the transcoders of the bundled model brown-gpt2:
# corpus documents → token streams (shipped tokenizer) → train.py → export.py → evaluate.py,
# writing assets/models/brown-gpt2/transcoders/ (config.yaml, layer_{l}.safetensors, the card).
# Needs `npm install` and Debian's PyTorch: apt-get install -y python3-torch libopenblas0-pthread
# Resumable: train.py continues from tools/train/work/transcoders/checkpoint.pt (delete it to start afresh).
# TRAIN_ARGS overrides the training flags (the shipped run's are the default below).
set -euo pipefail
cd "$(dirname "$0")/../../.."
W=tools/train/work
[ -f $W/train.jsonl ] || npx tsx tools/train/prepare-corpus.ts
[ -f $W/train.u16 ] || npx tsx tools/train/transcoders/tokenize-corpus.ts --work $W
# One thread and passive OpenMP waiting: on a machine shared with other jobs, two spinning threads
# burned three times the CPU per step of one.
export OMP_WAIT_POLICY=PASSIVE
/usr/bin/python3 tools/train/transcoders/train.py ${TRAIN_ARGS:---features 2048 --k 32 --batch 8 --lr 1.5e-3 --minutes 48 --tokens 8000000 --checkpoint-every 25 --threads 1} \
  | tee -a $W/transcoders-train.log
/usr/bin/python3 tools/train/transcoders/export.py
/usr/bin/python3 tools/train/transcoders/evaluate.py
