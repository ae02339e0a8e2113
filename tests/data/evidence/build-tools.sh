#!/usr/bin/env bash
# Build each evidence tool's own environment for the evidence-import tests (`make evidence-tools`; PROVENANCE.md).
#
#   EVIDENCE_TOOLS=.tools PYTHON=python3 tests/data/evidence/build-tools.sh [tool ...]
#
# Each tool gets a folder of its own under $EVIDENCE_TOOLS (default .tools, git-ignored; another folder, outside the
# clone, lets several clones share the environments): a venv installed from the full pins in envs/<tool>.txt
# (garak's and lm-eval's pin torch 2.13.0+cpu, the CPU build pip takes from this machine's disk; a plain resolve
# would download a CUDA build of several GB), or for promptfoo `npm ci` of envs/promptfoo/package-lock.json.
# Idempotent: <tool>/.installed holds the sha256 of the pins it was built from, and the tool is built again only when
# they change. A tool that cannot be built (no registry, no npm) is noted, with the reason in <tool>/.failed, and its
# tests skip saying why; this script itself never fails the build.
set -u
cd "$(dirname "$0")/../../.."
TOOLS=${EVIDENCE_TOOLS:-.tools}
PYTHON=${PYTHON:-python3}
ENVS=tests/data/evidence/envs
mkdir -p "$TOOLS"

pins_of() { if [ "$1" = promptfoo ]; then cat "$ENVS/promptfoo/package.json" "$ENVS/promptfoo/package-lock.json"; else cat "$ENVS/$1.txt"; fi; }

build() {
  local tool=$1 dir="$TOOLS/$1" log="$TOOLS/$1.log"
  if [ "$tool" = promptfoo ]; then
    command -v npm >/dev/null || { echo "npm is missing" >"$log"; return 1; }
    cp "$ENVS/promptfoo/package.json" "$ENVS/promptfoo/package-lock.json" "$dir/" &&
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1
  else
    # pip upgraded first: the venv's own (23.2) reads another cache than a current pip's (http-v2)
    "$PYTHON" -m venv "$dir" >"$log" 2>&1 &&
      "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >>"$log" 2>&1 &&
      "$dir/bin/python" -m pip install --disable-pip-version-check --no-input -r "$ENVS/$tool.txt" >>"$log" 2>&1
  fi
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(inspect garak lm-eval promptfoo evidently giskard)
for tool in "${tools[@]}"; do
  dir="$TOOLS/$tool"
  want=$(pins_of "$tool" | sha256sum | cut -c1-64)
  [ "$(cat "$dir/.installed" 2>/dev/null)" = "$want" ] && continue
  echo "building $dir for the evidence-import tests (log: $TOOLS/$tool.log)"
  rm -rf "$dir" && mkdir -p "$dir"
  started=$(date +%s)
  if build "$tool"; then
    echo "$want" >"$dir/.installed"
    echo "built $dir in $(($(date +%s) - started)) s, $(du -sh "$dir" | cut -f1)"
  else
    tail -n 3 "$TOOLS/$tool.log" >"$dir/.failed" 2>/dev/null
    echo "note: could not build $dir (see $TOOLS/$tool.log): its evidence-import tests will skip"
  fi
done
exit 0
