#!/usr/bin/env bash
# Install what spikeforge needs on Debian 12, and nothing when it is already there (safe to run again):
# - the Debian packages of the Verilog simulator and the iCE40 flow (installed when run as root, else listed);
# - the project venv .venv with spikeforge installed editable, with its test and train extras.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'bootstrap: %s\n' "$*" >&2; }

apt_packages=(iverilog yosys nextpnr-ice40 fpga-icestorm make g++ python3-venv)
if command -v dpkg-query >/dev/null; then
  missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      say "installing ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      say "not root; please install the missing packages with: sudo apt-get install ${missing[*]}"
    fi
  fi
else
  say "no dpkg (not Debian?); make sure these are installed: ${apt_packages[*]}"
fi

venv=$root/.venv
stamp=$venv/.spikeforge-bootstrap
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  say "creating the project venv in .venv"
  python3 -m venv "$venv"
fi
# Up to date when pyproject.toml has not changed since the last install and the editable install points here.
installed=$("$venv/bin/python" -c 'import spikeforge.hdl as hdl; print(hdl.__file__)' 2>/dev/null || true)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ "$installed" != "$root/hdl/__init__.py" ]; then
  say "installing spikeforge and its dependencies into .venv (pip install -e .[test,train])"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test,train]"
  printf '%s\n' "$want" >"$stamp"
fi
