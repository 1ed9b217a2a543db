#!/usr/bin/env bash
# Builds the playground's JS package into playground/www/pkg (the page in playground/www and
# the npm-style package Node imports): the wasm32 target if it is missing, the wasm-bindgen
# CLI at the version the crate pins (installed by cargo into the target directory), the
# playground crate, then wasm-bindgen.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
version="$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' playground/Cargo.toml)"
if [ -z "$version" ]; then
  echo "playground/Cargo.toml does not pin wasm-bindgen (wasm-bindgen = \"=x.y.z\")" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

tools="$target_dir/playground-tools"
bindgen="$tools/bin/wasm-bindgen"
if [ "$("$bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $version" ]; then
  # Not --locked: the CLI's lock file names a webpki-roots release (1.0.11, for its test
  # runner's downloads) that the crates.io index no longer serves; its own version is pinned.
  cargo install wasm-bindgen-cli --version "=$version" --root "$tools"
fi

cargo build -p prodready-playground --target wasm32-unknown-unknown --profile playground
out=playground/www/pkg
rm -rf "$out"
"$bindgen" --target web --remove-name-section --out-dir "$out" --out-name prodready \
  "$target_dir/wasm32-unknown-unknown/playground/prodready_playground.wasm"
# ES modules for Node too: `import { check, initSync } from "playground/www/pkg/prodready.js"`.
crate_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
cat > "$out/package.json" <<JSON
{
  "name": "@prodready/playground",
  "version": "$crate_version",
  "description": "prodready's rules in the browser and in Node (WebAssembly)",
  "license": "Apache-2.0",
  "type": "module",
  "main": "prodready.js",
  "types": "prodready.d.ts",
  "files": ["prodready.js", "prodready.d.ts", "prodready_bg.wasm", "prodready_bg.wasm.d.ts"]
}
JSON
ls -l "$out"
