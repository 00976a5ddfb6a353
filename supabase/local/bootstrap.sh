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
# Deno and the Supabase CLI live in .local/tools. They are installed by ONE npm command: without a
# package.json, `npm install --prefix` prunes whatever the command does not name, so installing
# either alone would remove the other.
want_deno=$(node -p "require('./package.json').config.deno")
want_supabase=$(node -p "require('./package.json').config.supabase")
tools="$root/.local/tools"
have_deno=""
if [ -x "$tools/node_modules/.bin/deno" ]; then
  have_deno=$("$tools/node_modules/.bin/deno" --version 2>/dev/null | awk 'NR==1{print $2}') || true
fi
# Read from its package: `supabase --version` asks GitHub for the latest release.
have_supabase=$(node -p "try { require('$tools/node_modules/supabase/package.json').version } catch { '' }")
if [ "$have_deno" != "$want_deno" ] || [ "$have_supabase" != "$want_supabase" ] ||
  [ ! -x "$tools/node_modules/.bin/supabase" ]; then
  say "installing Deno $want_deno and the Supabase CLI $want_supabase from npm into .local/tools"
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error \
    "deno@$want_deno" "supabase@$want_supabase" >&2
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
  if [ ! -f "/usr/share/postgresql/$version/extension/plpgsql_check.control" ]; then
    say "plpgsql_check not found: installing Debian's postgresql-$version-plpgsql-check (supabase db lint, validator rule plpgsql_check)"
    apt_install "postgresql-$version-plpgsql-check"
  fi
fi

# Delivered edge functions are type-checked by a `deno check` child (shared/validation/typecheck.ts)
# that downloads the npm packages they import into Deno's cache (DENO_DIR, or Deno's default). Warm
# that cache with what the product's own samples import — the fixtures' function sources, the
# delivery and agent test data, the edge-functions prompt's examples — through the same type-check
# the product runs, so a fresh machine (or CI's empty DENO_DIR) fails here, with a clear message,
# rather than deep inside a run whose edge-functions task cannot type-check.
say "caching the npm packages the product's sample functions import (for deno check)"
if ! "$tools/node_modules/.bin/deno" run -A --quiet - >&2 <<'TS'; then
import {
  isPackageSpecifier,
  typecheckFunctions,
  typecheckImportMap,
} from "./shared/validation/typecheck.ts";

// Where the product's own function samples live, and which files of them hold sources.
const SAMPLES: [folder: string, suffix: RegExp][] = [
  ["tests/fixtures/nine_agents", /\.ts$/],
  ["tests/fixtures/validate/corpus/_functions", /\.ts\.txt$/],
  ["shared/agents/testdata", /\.ts$/],
  ["shared/delivery/testdata", /\.ts$/],
  ["prompts/backend", /\.md$/],
];

async function* files(folder: string, suffix: RegExp): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(folder)) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) yield* files(path, suffix);
    else if (suffix.test(entry.name)) yield path;
  }
}

// npm: specifiers, and bare names of the import map, quoted or in backticks (sources embedded in
// test data and the prompt's prose included). jsr: ones are left out: the one the samples use is
// mapped to a local file, and JSR itself may not be reachable.
const importMap = await typecheckImportMap();
const wanted = new Set<string>();
for (const [folder, suffix] of SAMPLES) {
  for await (const path of files(folder, suffix)) {
    const text = await Deno.readTextFile(path);
    for (const m of text.matchAll(/["'`](npm:[^"'`\s]+)["'`]/g)) {
      if (isPackageSpecifier(m[1])) wanted.add(m[1]);
    }
    for (const m of text.matchAll(/\bfrom\s+["']([^"'.\/][^"':\s]*)["']/g)) {
      if (m[1] in importMap) wanted.add(m[1]);
    }
  }
}
const source = [...wanted].sort().map((s) => `import ${JSON.stringify(s)};`).join("\n") + "\n";
const findings = await typecheckFunctions([{ name: "_warm_cache/index.ts", source }]);
for (const f of findings) console.error(`[bootstrap] ${f.rule}: ${f.message}`);
console.error(`[bootstrap] ${wanted.size} package specifiers: ${[...wanted].sort().join(", ")}`);
Deno.exit(findings.length === 0 ? 0 : 1);
TS
  say "could not cache them: see the message above"
  exit 1
fi
