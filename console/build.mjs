// Builds the web console into the directory the HTTP transport serves at `/`:
//   node console/build.mjs [--outdir DIR]
// (default server/src/statehouse/server/web/static, committed). The output is a
// function of the sources and of esbuild's version: tests/unit/test_console_assets.py
// rebuilds into a temporary directory and compares it with the committed files.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
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
// The script and the style sheet are named by their content's hash, so the
// server may let browsers cache them (index.html, which names them, is never cached).
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { app: "console/src/main.ts", style: "console/src/style.css" },
  outdir: join(outdir, "assets"),
  entryNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  metafile: true,
  logLevel: "warning",
});
const served = {};
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  const name = output.entryPoint?.endsWith(".css") ? "style.css" : "app.js";
  served[name] = `/assets/${basename(file)}`;
}
const page = readFileSync(join(here, "index.html"), "utf8")
  .replace("/app.js", served["app.js"])
  .replace("/style.css", served["style.css"]);
writeFileSync(join(outdir, "index.html"), page);
