#!/usr/bin/env bash
# Install the two real third-party RocketMQ clients that tests/interop drives
# against LocalBroker. Idempotent: re-running reuses what is already there.
#
#   C++ client : PyPI rocketmq==0.4.4 (a ctypes wrapper around the bundled
#                librocketmq.so, apache rocketmq-client-cpp), installed into a
#                dedicated venv tests/interop/.venv so that the project venv
#                never loads the native library.
#   ali-ons    : npm ali-ons (pure JavaScript), pinned in
#                tests/interop/drivers/package.json + package-lock.json,
#                installed with `npm ci` into tests/interop/drivers/node_modules.
#
# For each client a status file is written:
#   tests/interop/.status-cpp, tests/interop/.status-ons
# holding either "ok: <details>" or "unavailable: <reason>". The pytest
# conftest reads them to give a skip reason. This script always exits 0 when a
# client cannot be installed on this platform; it exits non-zero only on a
# usage error.
#
# Environment:
#   PYTHON      interpreter used to create the venv (default: python3)
#   INTEROP_ONLY=cpp|ons   install only one of the two clients
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
DRIVERS="$HERE/drivers"
PYTHON="${PYTHON:-python3}"
ONLY="${INTEROP_ONLY:-}"
ROCKETMQ_PIN="rocketmq==0.4.4"

status() {  # status <cpp|ons> <text>
    printf '%s\n' "$2" > "$HERE/.status-$1"
    printf 'interop setup [%s]: %s\n' "$1" "$2"
}

setup_cpp() {
    local arch os
    arch="$(uname -m)"
    os="$(uname -s)"
    if [ "$os" != "Linux" ] || [ "$arch" != "x86_64" ]; then
        status cpp "unavailable: rocketmq 0.4.4 ships librocketmq.so only for x86-64 Linux (this is $os/$arch)"
        return 0
    fi
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        status cpp "unavailable: no Python interpreter '$PYTHON' to create $VENV"
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$PYTHON" -m venv "$VENV"; then
            rm -rf "$VENV"
            status cpp "unavailable: '$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)"
            return 0
        fi
    fi
    if ! "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("rocketmq") != "0.4.4")' 2>/dev/null; then
        if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$ROCKETMQ_PIN"; then
            status cpp "unavailable: pip install $ROCKETMQ_PIN failed (is PyPI reachable?)"
            return 0
        fi
    fi
    local lib
    lib="$("$VENV/bin/python" - <<'EOF'
import importlib.util, os
spec = importlib.util.find_spec("rocketmq")
print(os.path.join(os.path.dirname(spec.origin), "librocketmq.so"))
EOF
)"
    if [ ! -f "$lib" ]; then
        status cpp "unavailable: $ROCKETMQ_PIN installed but has no librocketmq.so"
        return 0
    fi
    # The wheel bundles its own libz; the rest must come from the system:
    # libstdc++.so.6, libgcc_s.so.1 (Debian: libstdc++6, libgcc-s1), libc,
    # libm, libdl, libpthread, librt (libc6).
    if command -v ldd >/dev/null 2>&1 && ldd "$lib" | grep -q 'not found'; then
        local missing
        missing="$(ldd "$lib" | awk '/not found/ {print $1}' | tr '\n' ' ')"
        if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
            echo "interop setup [cpp]: librocketmq.so lacks: $missing; trying apt-get install libstdc++6 libgcc-s1"
            apt-get install -y -q libstdc++6 libgcc-s1 >/dev/null 2>&1 \
                || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libstdc++6 libgcc-s1 >/dev/null 2>&1; }
        fi
        if ldd "$lib" | grep -q 'not found'; then
            missing="$(ldd "$lib" | awk '/not found/ {print $1}' | tr '\n' ' ')"
            status cpp "unavailable: librocketmq.so needs missing system libraries: $missing(Debian: apt-get install libstdc++6 libgcc-s1)"
            return 0
        fi
    fi
    local err
    if ! err="$("$VENV/bin/python" -c 'from rocketmq.client import Producer, Message, SendStatus' 2>&1)"; then
        status cpp "unavailable: 'from rocketmq.client import Producer' fails: $(printf '%s\n' "$err" | tail -1)"
        return 0
    fi
    status cpp "ok: $ROCKETMQ_PIN in $VENV ($("$VENV/bin/python" -V 2>&1))"
}

setup_ons() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        status ons "unavailable: node and npm are needed for ali-ons (Debian: apt-get install nodejs npm)"
        return 0
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
    if [ "$major" -lt 10 ]; then
        status ons "unavailable: ali-ons needs node >= 10 (found $(node --version))"
        return 0
    fi
    local want have
    want="$(node -p 'require(process.argv[1]).dependencies["ali-ons"]' "$DRIVERS/package.json")"
    have="$(node -p 'try { require(process.argv[1]).version } catch (e) { "" }' \
        "$DRIVERS/node_modules/ali-ons/package.json" 2>/dev/null || true)"
    if [ "$have" != "$want" ]; then
        if ! (cd "$DRIVERS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
            status ons "unavailable: 'npm ci' in $DRIVERS failed (is the npm registry reachable?)"
            return 0
        fi
    fi
    local err
    if ! err="$(cd "$DRIVERS" && node -e 'require("ali-ons")' 2>&1)"; then
        status ons "unavailable: require('ali-ons') fails: $(printf '%s\n' "$err" | tail -1)"
        return 0
    fi
    status ons "ok: ali-ons@$want in $DRIVERS/node_modules (node $(node --version))"
}

case "$ONLY" in
    "") setup_cpp; setup_ons ;;
    cpp) setup_cpp ;;
    ons) setup_ons ;;
    *) echo "INTEROP_ONLY must be cpp or ons, not '$ONLY'" >&2; exit 2 ;;
esac
exit 0
