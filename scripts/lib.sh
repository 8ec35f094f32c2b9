# scripts/lib.sh: shell helpers shared by the scripts in scripts/ (bash; source it, do not run it).
#
#   . "$(dirname "$0")/lib.sh"
#   ws_section "Building"        # a visible header in a long log
#   ws_apt_install gcc cmake     # installs what is missing, in one apt-get call
#   ws_die "message"             # prints to stderr and exits 1
#   ws_websockets_venv DIR       # a Python venv in DIR with the websockets package

# The repository root (the directory above scripts/).
WS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WS_ROOT

ws_say () {
  printf '%s\n' "$*"
}

ws_warn () {
  printf 'warning: %s\n' "$*" >&2
}

ws_die () {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# A header that stands out in a CI log.
ws_section () {
  printf '\n==== %s ====\n' "$*"
}

# Runs a command with root rights: directly as root, else through sudo without a password
# prompt. Fails (status 1) when neither is possible.
ws_as_root () {
  if test "$(id -u)" = 0; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    printf 'error: needs root (or password-less sudo) to run: %s\n' "$*" >&2
    return 1
  fi
}

# Prints the Debian packages listed on `# apt: pkg ...` lines of the given files, one per line.
ws_apt_lines () {
  local f
  for f in "$@"; do
    test -f "$f" || continue
    sed -n 's/^#[[:space:]]*apt:[[:space:]]*//p' "$f"
  done | tr -s ' \t' '\n\n' | sed '/^$/d'
}

# Installs the Debian packages among the arguments that are not installed yet: one
# `apt-get update` and one `apt-get install` for all of them; nothing when all are there.
ws_apt_install () {
  local missing=() pkg
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    ws_warn "not a Debian system (no dpkg-query/apt-get): not installing $*; make sure they are there"
    return 0
  fi
  for pkg in $(printf '%s\n' "$@" | LC_ALL=C sort -u); do
    if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$pkg")
    fi
  done
  if test ${#missing[@]} = 0; then
    ws_say "all ${#} packages are installed"
    return 0
  fi
  ws_say "installing: ${missing[*]}"
  ws_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
  ws_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o DPkg::Lock::Timeout=600 "${missing[@]}"
}

# Number of CPUs to use for parallel builds (at least 1).
ws_jobs () {
  local n
  n=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
  test "$n" -ge 1 2>/dev/null || n=1
  echo "$n"
}

# Makes (once) a Python venv in $1 with Python's `websockets` package (pip requirement $2,
# default 'websockets>=13', the first with the sync API the peers use) and prints the version
# it got. The venv's interpreter is $1/bin/python.
ws_websockets_venv () {
  local venv=$1 req=${2:-websockets>=13}
  if ! "$venv/bin/python" -c 'import websockets.sync.server' 2>/dev/null; then
    python3 -m venv "$venv" || return 1
    "$venv/bin/pip" install --quiet "$req" || return 1
  fi
  "$venv/bin/python" -c 'import websockets; print("websockets", websockets.__version__)'
}
