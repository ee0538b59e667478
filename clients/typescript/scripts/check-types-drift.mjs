#!/usr/bin/env node
// Regenerate the OpenAPI types into a temporary file (the same command as
// `npm run generate`) and fail when the committed src/generated/openapi.ts differs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const committed = join(root, "src/generated/openapi.ts");
const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts;
const generate = scripts.generate.split(/\s+/);
const output = generate.indexOf("--output");
if (generate[0] !== "openapi-typescript" || output < 0) {
  console.error("check:types-drift: expected `openapi-typescript ... --output FILE` as the generate script");
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "avatar-render-types-"));
try {
  const fresh = join(dir, "openapi.ts");
  const args = generate.slice(1);
  args.splice(output - 1, 2, "--output", fresh);
  const bin = join(root, "node_modules/openapi-typescript/bin/cli.js");
  execFileSync(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const want = readFileSync(fresh, "utf8");
  const have = readFileSync(committed, "utf8");
  if (want !== have) {
    const a = have.split("\n");
    const b = want.split("\n");
    let line = 0;
    while (line < a.length && a[line] === b[line]) line++;
    console.error(
      `check:types-drift: src/generated/openapi.ts is out of date with openapi.json ` +
        `(first difference at line ${line + 1}).\n` +
        `  committed: ${JSON.stringify(a[line] ?? "<end of file>")}\n` +
        `  generated: ${JSON.stringify(b[line] ?? "<end of file>")}\n` +
        `Run \`npm run generate\` in clients/typescript and commit the result.`,
    );
    process.exit(1);
  }
  console.log("check:types-drift: src/generated/openapi.ts matches openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
