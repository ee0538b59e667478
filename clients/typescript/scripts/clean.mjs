#!/usr/bin/env node
// Remove build folders (portable `rm -rf`): node scripts/clean.mjs dist build-test
import { rmSync } from "node:fs";

for (const folder of process.argv.slice(2)) rmSync(folder, { recursive: true, force: true });
