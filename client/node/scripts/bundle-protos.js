#!/usr/bin/env node
'use strict';
/**
 * Makes the package self-contained for `npm pack` (run as its prepack script):
 * copies the repository's protos (../../protos/statehouse/**.proto) into the
 * package's protos/, which src/index.js uses when the package is installed
 * outside the repository. The copy is not in git (.gitignore).
 *
 * `--clean` (the postpack script) removes the copy again, so the repository
 * never keeps one that could fall behind its protos (index.js prefers the
 * repository's protos anyway when the package is the repository's client/node).
 *
 * Before copying it checks that every import of the copied files resolves
 * inside the package: a copied file, third_party/ (google/rpc), or
 * google/protobuf/ (bundled with protobufjs).
 * Packing a copy that has no repository beside it (an installed package)
 * keeps the protos/ it already holds.
 */

const fs = require('node:fs');
const path = require('node:path');

const PACKAGE = path.resolve(__dirname, '..');
const SOURCE = path.resolve(PACKAGE, '..', '..', 'protos');
const TARGET = path.join(PACKAGE, 'protos');
const THIRD_PARTY = path.join(PACKAGE, 'third_party');
const ROOT_PACKAGE = 'statehouse';

/** The .proto files under `dir`, relative to it, in a stable order. */
function protoFiles(dir, prefix = '') {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const relative = path.posix.join(prefix, entry.name);
      if (entry.isDirectory()) return protoFiles(dir, relative);
      return entry.name.endsWith('.proto') ? [relative] : [];
    });
}

/** Fails unless every import of `files` (relative to SOURCE) resolves in the package. */
function checkImports(files) {
  const copied = new Set(files);
  const missing = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(SOURCE, file), 'utf8');
    for (const [, imported] of text.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)) {
      const found =
        copied.has(imported) ||
        imported.startsWith('google/protobuf/') ||
        fs.existsSync(path.join(THIRD_PARTY, imported));
      if (!found) missing.push(`${file} imports ${imported}`);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `bundle-protos: imports the package would not hold (add them to third_party/):\n  ${missing.join('\n  ')}`,
    );
  }
}

function bundle() {
  if (!fs.existsSync(path.join(SOURCE, ROOT_PACKAGE))) {
    if (fs.existsSync(path.join(TARGET, ROOT_PACKAGE))) {
      console.log(`bundle-protos: no repository protos at ${SOURCE}; keeping the package's protos/`);
      return;
    }
    throw new Error(`bundle-protos: no protos at ${SOURCE} (run npm pack in the repository's client/node)`);
  }
  const files = protoFiles(SOURCE, ROOT_PACKAGE);
  checkImports(files);
  // Copy beside the target, then swap it in, so protos/ is never half written.
  const staging = `${TARGET}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
    fs.copyFileSync(path.join(SOURCE, file), path.join(staging, file));
  }
  fs.rmSync(TARGET, { recursive: true, force: true });
  fs.renameSync(staging, TARGET);
  console.log(`bundle-protos: copied ${files.length} protos from ${SOURCE} into ${TARGET}`);
}

function clean() {
  // Only a copy of the repository's protos is removed, never the sole copy.
  if (fs.existsSync(path.join(SOURCE, ROOT_PACKAGE))) {
    fs.rmSync(TARGET, { recursive: true, force: true });
  }
}

try {
  if (process.argv.includes('--clean')) clean();
  else bundle();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
