#!/usr/bin/env bash
# Set up edgemem in ./.venv with every extra the test suite needs.
#
# PyTorch: when the venv has no torch yet, this installs ${EDGEMEM_TORCH:-torch==2.13.0}.
# On machines with a local CPU wheel of torch 2.13.0 (pip's find-links) that is the CPU build;
# elsewhere set EDGEMEM_TORCH, e.g.
#   EDGEMEM_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"   # CPU-only
#   EDGEMEM_TORCH="torch"                                                            # CUDA build from PyPI
# An existing torch in the venv is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    # shellcheck disable=SC2086  # EDGEMEM_TORCH may carry pip flags on purpose
    .venv/bin/python -m pip install -q ${EDGEMEM_TORCH:-torch==2.13.0}
fi
.venv/bin/python -m pip install -q -e ".[distill,tvm,solver,peers,dev]"
echo "edgemem is set up in .venv: $(.venv/bin/edgemem --version)"
