#!/usr/bin/env bash
# Re-creates ../pkcs12.js (and ../pkcs12.LICENSES.txt) from the pinned npm packages, then prints
# the bundle's sha256 to compare with README.md. Needs node and npm; writes node_modules/ here
# (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts
./node_modules/@esbuild/linux-x64/bin/esbuild entry.mjs --bundle --minify --format=iife \
  --global-name=EsignPkcs12 --target=es2020 --legal-comments=none --log-level=warning \
  --outfile=../pkcs12.js
{
  echo "assets/h5/pkcs12.js bundles the following packages (built by assets/h5/pkcs12/build.sh)."
  for package in pkijs asn1js @noble/hashes @peculiar/utils bytestreamjs; do
    version=$(node -p "require('./node_modules/$package/package.json').version")
    licence=$(node -p "require('./node_modules/$package/package.json').license")
    echo
    echo "==== $package $version ($licence) ===="
    echo
    cat "node_modules/$package/LICENSE"
  done
} > ../pkcs12.LICENSES.txt
sha256sum ../pkcs12.js
