// Builds the web console into the directory the HTTP transport serves at `/`:
//   node console/build.mjs [--outdir DIR]
// (default server/src/statehouse/server/web/static, committed). The output is a
// function of the sources and of esbuild's version: tests/unit/test_console_assets.py
// rebuilds into a temporary directory and compares it with the committed files.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const flag = process.argv.indexOf("--outdir");
const outdir = resolve(
  flag >= 0 ? process.argv[flag + 1] : join(root, "server/src/statehouse/server/web/static"),
);

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["console/src/main.ts"],
  outfile: join(outdir, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
for (const name of readdirSync(join(here, "static"))) {
  copyFileSync(join(here, "static", name), join(outdir, name));
}
