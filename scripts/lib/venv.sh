# Sourced by scripts/test and scripts/demo (from the repository root): the project virtualenv.
#
#   ensure_venv test   # .venv with the package (editable) and its [test] extra
#   ensure_venv base   # .venv with the package (editable)
#
# The package index is only needed when something must be installed: a .venv whose install
# stamp matches this checkout's pyproject.toml, whose package imports from this checkout and
# whose dependencies are consistent (`pip check`) is used as it is, offline. The stamp is
# written only after a successful install, so an interrupted install is retried next time.

venv_want() {
  printf '%s %s\n' "$(sha256sum pyproject.toml | cut -d' ' -f1)" "$(pwd -P)"
}

# venv_is_current NAME: 0 when .venv already holds what `ensure_venv NAME` would install.
venv_is_current() {
  local name=$1 stamp want
  [ -x .venv/bin/python ] || return 1
  want=$(venv_want)
  for stamp in ".venv/.gcore-pulumi-$name" ".venv/.gcore-pulumi-test"; do
    # a [test] install covers the base one
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
      # -I: ignore the current directory, so this imports what the venv installed
      .venv/bin/python -I -c 'import gcore_pulumi' >/dev/null 2>&1 || return 1
      .venv/bin/python -m pip check >/dev/null 2>&1 || return 1
      return 0
    fi
  done
  return 1
}

ensure_venv() {
  local name=$1 spec=. log extra=""
  if [ "$name" = test ]; then
    spec=".[test]"
    extra="; and the test tools: pytest, ruff, mypy"
  fi
  if venv_is_current "$name"; then
    return 0
  fi
  # Say what is about to take a while, and why, before it starts (the first install takes
  # about 20 s; later runs reuse .venv offline and print nothing).
  if [ -x .venv/bin/python ]; then
    echo "$(basename "$0"): updating .venv: installing gcore-pulumi ($spec) and its dependencies," \
      "because pyproject.toml or this checkout changed since the last install (about 20 s)..." >&2
  else
    echo "$(basename "$0"): making .venv (first run): installing gcore-pulumi ($spec) and its" \
      "dependencies (pulumi, requests, pydantic$extra) from the package index (about 20 s)..." >&2
  fi
  if [ ! -x .venv/bin/python ]; then
    # --clear: a .venv whose Python is gone (made by a since removed version: dangling
    # links) cannot be reused; one without a bin/python at all has nothing worth keeping.
    "${PYTHON:-python3}" -m venv --clear .venv
  fi
  # pip's and setuptools' chatter only matters when the install fails.
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
         .venv/bin/python -m pip install --quiet -e "$spec"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "$(basename "$0"): installing gcore-pulumi ($spec) into .venv failed (pip output above)" >&2
    return 1
  fi
  rm -f "$log"
  venv_want >".venv/.gcore-pulumi-$name"
  echo "$(basename "$0"): .venv is ready (later runs reuse it without the network)." >&2
}
