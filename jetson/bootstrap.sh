#!/usr/bin/env bash
# edgemem device check: run ON the Jetson (or any Linux box) to see whether `edgemem bench` can
# measure there and what it will be able to see. It only reads and reports: it installs nothing,
# changes no power mode, clocks or files. Exit 0 when the agent can run (python3 >= 3.6), else 1.
#
#   bash bootstrap.sh                      # as the user edgemem will log in as
#   PYTHON=/usr/bin/python3 bash bootstrap.sh
#
# EDGEMEM_AGENT_SYSROOT=DIR reads /etc and /proc/device-tree below DIR (used by the tests).
set -u
PYTHON=${PYTHON:-python3}
ROOT=${EDGEMEM_AGENT_SYSROOT:-}
OK=0; WARN=0; MISSING=0

report() {  # report ok|warn|missing WHAT DETAIL
    printf '%-8s %-22s %s\n' "$1" "$2" "$3"
    case $1 in ok) OK=$((OK + 1));; warn) WARN=$((WARN + 1));; missing) MISSING=$((MISSING + 1));; esac
}

find_tool() {  # find_tool NAME [EXTRA_PATH]: the path, or nothing
    command -v "$1" 2>/dev/null || { [ -n "${2:-}" ] && [ -x "$2" ] && echo "$2"; } || true
}

echo "edgemem bootstrap check on $(hostname) ($(uname -m), kernel $(uname -r))"

# --- identity
model=$( { tr -d '\0' < "$ROOT/proc/device-tree/model"; } 2>/dev/null || true)
[ -n "$model" ] && report ok board "$model" || report warn board "no /proc/device-tree/model (not a Jetson?)"
release=$(head -n 1 "$ROOT/etc/nv_tegra_release" 2>/dev/null || true)
[ -n "$release" ] && report ok l4t "$release" || report warn l4t "no /etc/nv_tegra_release (not L4T?)"
cuda=$(cat "$ROOT/usr/local/cuda/version.json" "$ROOT/usr/local/cuda/version.txt" 2>/dev/null | tr -d '\n' | head -c 200)
[ -n "$cuda" ] && report ok cuda "$cuda" || report warn cuda "no /usr/local/cuda/version.{json,txt}"

# --- python and runtimes (the agent uses the system interpreter, standard library only)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    report missing python "$PYTHON not found: the agent needs Python 3.6 or newer (JetPack ships /usr/bin/python3)"
else
    version=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    if "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 6) else 1)'; then
        report ok python "$(command -v "$PYTHON") $version"
    else
        report missing python "$version is older than 3.6"
    fi
    for module in tensorrt onnxruntime numpy tvm; do
        found=$("$PYTHON" -c "import $module as m; print(getattr(m, '__version__', '?'))" 2>/dev/null)
        if [ -n "$found" ]; then
            extra=""
            [ "$module" = onnxruntime ] && extra=" providers: $("$PYTHON" -c 'import onnxruntime as m; print(",".join(m.get_available_providers()))' 2>/dev/null)"
            report ok "$module" "$found$extra"
        else
            report warn "$module" "not importable by $PYTHON (backend unavailable)"
        fi
    done
fi

# --- device tools
trtexec=$(find_tool trtexec /usr/src/tensorrt/bin/trtexec)
if [ -n "$trtexec" ]; then
    banner=$("$trtexec" --help 2>&1 | grep -m1 -o '\[TensorRT v[0-9]*\]' || true)
    report ok trtexec "$trtexec ${banner:-(no version banner)}"
else
    report warn trtexec "not on PATH or in /usr/src/tensorrt/bin (TensorRT via trtexec unavailable)"
fi
tegrastats=$(find_tool tegrastats /usr/bin/tegrastats)
[ -n "$tegrastats" ] && report ok tegrastats "$tegrastats" || report warn tegrastats "not found (no power/clock/thermal context)"
nvpmodel=$(find_tool nvpmodel /usr/sbin/nvpmodel)
if [ -n "$nvpmodel" ]; then
    mode=$("$nvpmodel" -q 2>/dev/null | sed -n 's/^NV Power Mode: *//p' | head -n 1)
    id=$("$nvpmodel" -q 2>/dev/null | grep -m1 -x '[0-9][0-9]*' || true)
    report ok "power mode" "${mode:-unknown} (${id:-?}); keep it fixed while measuring, e.g. sudo nvpmodel -m N"
else
    report warn "power mode" "nvpmodel not found"
fi
clocks=$(find_tool jetson_clocks /usr/bin/jetson_clocks)
[ -n "$clocks" ] && report ok jetson_clocks "$clocks (edgemem bench --lock-clocks uses it and restores afterwards)" \
    || report warn jetson_clocks "not found (--lock-clocks unavailable)"

# --- memory and what can be seen without root
total=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
available=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
swap=$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)
report ok memory "MemTotal $((total / 1024)) MiB, MemAvailable $((available / 1024)) MiB, swap $((swap / 1024)) MiB"
if [ "$(id -u)" = 0 ]; then
    report ok privileges "root: nvmap (where debugfs has it) and jetson_clocks usable"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    report ok privileges "passwordless sudo: tegrastats clocks and jetson_clocks usable"
else
    report warn privileges "not root, no passwordless sudo: GPU (nvmap) memory per process is not readable"
fi
[ -r /sys/kernel/debug/nvmap/iovmm/clients ] && report ok nvmap "per-process GPU memory readable" \
    || report warn nvmap "/sys/kernel/debug/nvmap/iovmm/clients not readable (needs root)"
[ -w /proc/self/clear_refs ] && report ok clear_refs "peak RSS can be reset after loading" \
    || report warn clear_refs "cannot reset VmHWM: activations will be sampled, not exact"

# --- headless and SSH
if command -v systemctl >/dev/null 2>&1; then
    target=$(systemctl get-default 2>/dev/null || echo unknown)
    [ "$target" = multi-user.target ] && report ok headless "default target $target" \
        || report warn headless "default target $target: a desktop takes memory; sudo systemctl set-default multi-user.target"
fi
[ -s "$HOME/.ssh/authorized_keys" ] && report ok ssh-keys "$HOME/.ssh/authorized_keys present" \
    || report warn ssh-keys "no $HOME/.ssh/authorized_keys: ssh-copy-id from the host"
cache="${HOME}/.cache/edgemem"
free_kib=$(df -Pk "$HOME" 2>/dev/null | awk 'NR == 2 {print $4}')
report ok disk "${free_kib:-?} KiB free in $HOME (agent cache: $cache)"

echo "summary: $OK ok, $WARN warnings, $MISSING missing"
[ "$MISSING" = 0 ]
