// Where the checkout is, for tools that run from internal/ (tsx) or from
// build/internal/ (compiled) alike. Not installed.

import * as fs from "node:fs";
import * as path from "node:path";

function findRepo(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Makefile")) && fs.existsSync(path.join(dir, "lap.ts"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no lap checkout above ${from}`);
  }
}

export const REPO = findRepo(__dirname);
// The compiled CLI, as make build leaves it.
export const LAP = path.join(REPO, "build", "lap.js");
