#!/usr/bin/env node
// Rebuild the web page's committed modules (`npm run build:ui`: producer_api/ui/static/app.js
// and client/) and fail when they differ from what was committed before the build.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const staticDir = join(root, "../../producer_api/ui/static");

function modules() {
  const found = new Map();
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".js")) found.set(relative(staticDir, path), readFileSync(path, "utf8"));
    }
  };
  walk(staticDir);
  return found;
}

const before = modules();
execFileSync("npm", ["run", "--silent", "build:ui"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const after = modules();
const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
if (changed.length) {
  console.error(
    `check:ui-drift: the page's committed modules were stale: ${changed.sort().join(", ")}.\n` +
      "They are rebuilt now (npm run build:ui in clients/typescript): commit producer_api/ui/static.",
  );
  process.exit(1);
}
