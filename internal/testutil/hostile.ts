// The corpus of hostile strings (testdata/hostile/strings.json) and the check
// that text printed by lap carries none of what a terminal would obey. Not
// installed.

import * as fs from "node:fs";
import * as path from "node:path";
import { REPO } from "./repo.js";

export const HOSTILE: { name: string; text: string }[] = JSON.parse(fs.readFileSync(path.join(REPO, "testdata", "hostile", "strings.json"), "utf8"));

// What must never reach the user's terminal from lap's own output: C0
// controls but newline and tab, DEL, C1 controls, the line separators and
// the bidirectional controls.
export const OBEYED = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

// obeyed returns the first character a terminal would obey, with its
// surroundings, or null.
export function obeyed(text: string): string | null {
  const m = OBEYED.exec(text);
  return m ? JSON.stringify(text.slice(Math.max(0, m.index - 20), m.index + 20)) : null;
}
