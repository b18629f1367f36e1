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
    sudo_ apt-get update -qq
    # shellcheck disable=SC2086
    sudo_ apt-get install -y -qq --no-install-recommends $need >/dev/null
}

# pip, quietly: the machine's pip configuration may warn about absent local indexes.
pip_() {
    PYTHONWARNINGS=ignore "$VENV/bin/pip" "$@" 2>&1 | { grep -v -e '^WARNING: Location' || true; }
    return "${PIPESTATUS[0]}"
}

apt_install "${BASE_APT[@]}"

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

# What the plugins declare (toolchains, reference implementations).
mapfile -t plugin_apt < <("$VENV/bin/lab" doctor --print-missing apt)
[ "${#plugin_apt[@]}" -eq 0 ] || apt_install "${plugin_apt[@]}"
mapfile -t plugin_pip < <("$VENV/bin/lab" doctor --print-missing pip)
if [ "${#plugin_pip[@]}" -gt 0 ]; then
    echo "setup: installing pip packages: ${plugin_pip[*]}"
    pip_ install -q "${plugin_pip[@]}"
fi
echo "setup: ready ($("$VENV/bin/python" --version), lab at $VENV/bin/lab)"
