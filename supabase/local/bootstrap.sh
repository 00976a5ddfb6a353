#!/usr/bin/env bash
# Installs what the local stack needs on a fresh Debian/Ubuntu machine with Node.js:
# Deno (the npm package `deno`, version pinned in package.json's config.deno) and, unless DATABASE_URL points at a server
# of your own, PostgreSQL 15 with pgTAP from Debian's packages. Safe to run again: it only installs
# what is missing, and says so.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

# Deno lives in .local/tools, not in the project's node_modules: `deno task` would otherwise resolve
# `deno` to the npm package's JavaScript shim instead of the binary.
want_deno=$(node -p "require('./package.json').config.deno")
tools="$root/.local/tools"
have_deno=""
if [ -x "$tools/node_modules/.bin/deno" ]; then
  have_deno=$("$tools/node_modules/.bin/deno" --version 2>/dev/null | awk 'NR==1{print $2}') || true
fi
if [ "$have_deno" != "$want_deno" ]; then
  say "installing Deno $want_deno from npm (package 'deno') into .local/tools"
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "deno@$want_deno" >&2
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bin_dir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    as_root apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

if [ -z "${DATABASE_URL:-}" ]; then
  if ! bindir=$(pg_bin_dir); then
    say "PostgreSQL server binaries not found: installing Debian's postgresql-15"
    apt_install postgresql-15 postgresql-contrib
    bindir=$(pg_bin_dir)
  fi
  version=$(basename "$(dirname "$bindir")")
  if [ ! -f "/usr/share/postgresql/$version/extension/pgtap.control" ]; then
    say "pgTAP not found: installing Debian's postgresql-$version-pgtap"
    apt_install "postgresql-$version-pgtap"
  fi
fi
