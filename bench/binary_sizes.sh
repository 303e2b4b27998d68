#!/usr/bin/env bash
# Release binary sizes for arm64 (the functions run on Graviton, provided.al2023), built as
# `sam build` builds them: cargo-lambda + zig, `cargo lambda build --release --arm64`. One row
# per variant of [profile.release]: the project's profile as it is, then one setting changed
# at a time through CARGO_PROFILE_RELEASE_* (Cargo.toml sets strip, lto, codegen-units and
# panic itself, so cargo-lambda adds none of its own defaults on top). Columns: the bootstrap
# file of each function and of bench/hello-lambda (the empty function), raw and `zip -9`
# (what a Lambda deployment package carries), and the build's wall time.
#
#   bench/binary_sizes.sh                 # every variant below (slow: a full release build each)
#   bench/binary_sizes.sh as-is opt-s     # some of them
#
# Builds go to SIZES_TARGET_DIR (default target/binary-sizes), one directory per variant,
# each removed once measured (a few GB each) unless KEEP_TARGETS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

fail() { echo "bench/binary_sizes.sh: $*" >&2; exit 1; }
command -v cargo-lambda >/dev/null \
  || fail "cargo-lambda is missing: run 'make venv' (installs cargo-lambda==1.9.2 into .venv)"
# cargo-lambda links with zig: a zig on PATH, or the ziglang package pip installs with it.
# Without one it would stop and ask whether to install it, so check first.
command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1 \
  || fail "zig is missing: run 'make venv' (pip's cargo-lambda brings the ziglang package), or install zig"
rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
  || fail "the Rust target is missing: run 'rustup target add aarch64-unknown-linux-gnu'"
command -v zip >/dev/null || fail "zip is missing: run 'apt-get install -y zip'"

# name, then the CARGO_PROFILE_RELEASE_* settings that differ from Cargo.toml.
declare -A VARIANTS=(
  [as-is]=""
  [no-strip]="CARGO_PROFILE_RELEASE_STRIP=false"
  [lto-off]="CARGO_PROFILE_RELEASE_LTO=false"        # cargo's default: thin LTO within each crate only
  [cgu-16]="CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16"  # cargo's default for release
  [opt-s]="CARGO_PROFILE_RELEASE_OPT_LEVEL=s"
  [opt-z]="CARGO_PROFILE_RELEASE_OPT_LEVEL=z"
)
ORDER=(as-is no-strip lto-off cgu-16 opt-s opt-z)
if [ "$#" -gt 0 ]; then ORDER=("$@"); fi
for variant in "${ORDER[@]}"; do
  [ -n "${VARIANTS[$variant]+x}" ] || fail "unknown variant $variant (known: ${!VARIANTS[*]})"
done

FUNCTIONS=(api-lambda worker-lambda sweeper-lambda)
base=${SIZES_TARGET_DIR:-target/binary-sizes}
mkdir -p "$base"
zipped=$(mktemp -d)
trap 'rm -rf "$zipped"' EXIT

mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
size_of() { # bootstrap -> "raw MiB / zip MiB"
  rm -f "$zipped/b.zip"
  zip -q -9 -X -j "$zipped/b.zip" "$1"
  echo "$(mib "$(stat -c %s "$1")") / $(mib "$(stat -c %s "$zipped/b.zip")")"
}

echo "arm64 (aarch64-unknown-linux-gnu) bootstrap sizes, MiB: raw / zip -9"
echo
echo "| variant | settings | api-lambda | worker-lambda | sweeper-lambda | hello-lambda | build |"
echo "|---|---|---|---|---|---|---|"
for variant in "${ORDER[@]}"; do
  dir="$base/$variant"
  settings=${VARIANTS[$variant]}
  log="$base/$variant.log"
  start=$(date +%s)
  # shellcheck disable=SC2086 # the settings are NAME=VALUE words for env
  env $settings CARGO_TARGET_DIR="$dir" cargo lambda build --release --arm64 \
      --bin api-lambda --bin worker-lambda --bin sweeper-lambda >"$log" 2>&1 \
    || { tail -30 "$log" >&2; fail "the $variant build failed; log: $log"; }
  # shellcheck disable=SC2086
  env $settings CARGO_TARGET_DIR="$dir/hello" cargo lambda build --release --arm64 \
      --manifest-path bench/hello-lambda/Cargo.toml >>"$log" 2>&1 \
    || { tail -30 "$log" >&2; fail "the $variant build of hello-lambda failed; log: $log"; }
  seconds=$(( $(date +%s) - start ))
  row="| $variant | ${settings:-Cargo.toml as is} |"
  for f in "${FUNCTIONS[@]}"; do
    bin="$dir/lambda/$f/bootstrap"
    # ELF e_machine (2 bytes at offset 18) is 183 for aarch64.
    [ "$(od -An -tu2 -j18 -N2 "$bin" | tr -d ' ')" = 183 ] || fail "$bin is not an arm64 ELF file"
    row+=" $(size_of "$bin") |"
  done
  row+=" $(size_of "$dir/hello/lambda/hello-lambda/bootstrap") | ${seconds} s |"
  echo "$row"
  [ "${KEEP_TARGETS:-0}" = 1 ] || rm -rf "$dir"
done
