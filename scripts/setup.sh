#!/usr/bin/env bash
# Make this machine ready for the lab (Debian 12, run as root or with sudo available):
# system packages, a virtualenv in .venv with the lab installed editable, then the apt and
# pip packages that the discovered plugins declare. Idempotent: each step checks first, so a
# second run with nothing changed takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY=${PYTHON:-python3}
BASE_APT=(python3 python3-venv python3-dev gcc libc6-dev make git libffi-dev chromium)
# `lab fuzz` and `lab cover`: clang 14 with its sanitizer/libFuzzer runtimes, llvm-profdata,
# llvm-cov and llvm-symbolizer; zlib headers for raw libFuzzer harnesses that compare with zlib.
FUZZ_APT=(clang-14 libclang-rt-14-dev llvm-14 zlib1g-dev)
# `lab profile` and the measurement channels: perf (server flame graphs), valgrind with its
# headers (the instruction channel's callgrind client requests).
PROFILE_APT=(linux-perf valgrind)
# `lab chaos`: libfaketime (clock faults), nftables (partitions inside the lab's namespaces).
CHAOS_APT=(faketime nftables)
ATHERIS_VERSION=3.0.0

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing_apt() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

apt_install() {
    local need
    need=$(missing_apt "$@")
    [ -z "$need" ] && return 0
    echo "setup: installing apt packages: $need"
    export DEBIAN_FRONTEND=noninteractive
    # The kernel plugin boots Debian's kernel with an initramfs of its own: skip generating
    # the distribution's initrd when linux-image-amd64 is installed (about half a minute).
    export INITRD=No
    sudo_ apt-get update -qq
    # shellcheck disable=SC2086
    sudo_ apt-get install -y -qq --no-install-recommends $need >/dev/null
}

# pip, quietly: the machine's pip configuration may warn about absent local indexes.
pip_() {
    PYTHONWARNINGS=ignore "$VENV/bin/pip" "$@" 2>&1 | { grep -v -e '^WARNING: Location' || true; }
    return "${PIPESTATUS[0]}"
}

apt_install "${BASE_APT[@]}" "${FUZZ_APT[@]}" "${PROFILE_APT[@]}" "${CHAOS_APT[@]}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $($PY --version)"
    "$PY" -m venv "$VENV"
fi

stamp="$VENV/.lab-setup"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing the lab into $VENV"
    pip_ install -q --upgrade pip
    pip_ install -q -e '.[dev]'
    echo "$want" > "$stamp"
fi

# atheris built from source with clang 14: only a source build deploys asan_with_fuzzer.so
# (libFuzzer merged into the ASan runtime), without which native coverage never registers.
atheris_ok() {
    "$VENV/bin/python" - "$ATHERIS_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as md, importlib.util as iu, os, sys
spec = iu.find_spec("atheris")
assert spec and md.version("atheris") == sys.argv[1]
site = os.path.dirname(os.path.dirname(spec.origin))
assert os.path.exists(os.path.join(site, "asan_with_fuzzer.so"))
PY
}
if ! atheris_ok; then
    echo "setup: building atheris $ATHERIS_VERSION from source with clang-14 (about 3 minutes)"
    CLANG_BIN=/usr/bin/clang-14 CC=clang-14 CXX=clang++-14 \
        pip_ install -q --no-binary atheris "atheris==$ATHERIS_VERSION"
    atheris_ok || { echo "setup: atheris built without asan_with_fuzzer.so" >&2; exit 1; }
fi

# What the plugins declare (toolchains, reference implementations).
mapfile -t plugin_apt < <("$VENV/bin/lab" doctor --print-missing apt)
[ "${#plugin_apt[@]}" -eq 0 ] || apt_install "${plugin_apt[@]}"
mapfile -t plugin_pip < <("$VENV/bin/lab" doctor --print-missing pip)
if [ "${#plugin_pip[@]}" -gt 0 ]; then
    echo "setup: installing pip packages: ${plugin_pip[*]}"
    pip_ install -q "${plugin_pip[@]}"
fi
echo "setup: ready ($("$VENV/bin/python" --version), lab at $VENV/bin/lab)"
