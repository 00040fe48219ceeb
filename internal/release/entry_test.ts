// The Node version check at the top of the compiled entry (build/lap.js). On a
// Node older than 18, lap must print one line and exit 1 instead of dying in a
// SyntaxError from deep inside. Node parses a whole file before it runs any
// of it, so the entry file must be ES5 from its first line to its last (what
// needs a newer Node lives in the modules it requires after the check), and
// the check must come before its first require(). These tests read the
// compiled entry as make build leaves it (they compile nothing), scan it with
// TypeScript's scanner, and run it with a faked Node version.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { SyntaxKind } from "typescript/unstable/ast";
import { createScanner } from "typescript/unstable/ast/scanner";
import { LAP } from "../testutil/repo.js";

// What the check prints, up to the version.
const CHECK = "lap needs Node 18 or newer; this is Node ";
const OLD_VERSION = "16.20.2";
const STEP_MS = 30_000;

// Syntax that Node before 18 (back to ES5 engines) may not parse, as tokens.
const NEWER_PUNCTUATION = new Set(["=>", "...", "?.", "??", "??=", "||=", "&&=", "**", "**="]);
const NEWER_KEYWORDS = new Set(["let", "const", "class", "async", "await", "import", "export", "yield"]);
// After these a / starts a regular expression rather than a division.
const BEFORE_OPERAND = new Set(["return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else"]);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-entry-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// prelude is the part of the entry that runs before it loads any other
// module: everything above the first line that calls require().
function prelude(source: string): string {
  const lines = source.split("\n");
  const first = lines.findIndex((l) => /\brequire\s*\(/.test(l));
  return (first < 0 ? lines : lines.slice(0, first)).join("\n");
}

// newerSyntax lists, as "line: token", what in source is newer than ES5.
function newerSyntax(source: string): string[] {
  const found: string[] = [];
  const scanner = createScanner(true, undefined, source);
  const lineOf = (pos: number) => source.slice(0, pos).split("\n").length;
  let prev = "";
  // Open parentheses, marking those that hold a for statement's head.
  const parens: boolean[] = [];
  let forHead = false;
  // Open braces, marking those that close a template literal's ${.
  const braces: boolean[] = [];
  for (let kind = scanner.scan(); kind !== SyntaxKind.EndOfFile; kind = scanner.scan()) {
    if (kind === SyntaxKind.CloseBraceToken && braces.pop() === true) kind = scanner.reScanTemplateToken(false);
    if (kind === SyntaxKind.OpenBraceToken) braces.push(false);
    if (kind === SyntaxKind.TemplateHead || kind === SyntaxKind.TemplateMiddle) braces.push(true);
    let text = scanner.getTokenText();
    if ((text === "/" || text === "/=") && !endsOperand(prev)) {
      scanner.reScanSlashToken();
      text = scanner.getTokenText();
    }
    const where = `${lineOf(scanner.getTokenStart())}: ${text.length > 20 ? `${text.slice(0, 20)}…` : text}`;
    const afterDot = prev === ".";
    if (text.startsWith("`") || NEWER_PUNCTUATION.has(text) || text.startsWith("#")) found.push(where);
    else if (NEWER_KEYWORDS.has(text) && !afterDot) found.push(where);
    else if (text === "of" && !afterDot && parens[parens.length - 1] === true) found.push(`${where} (for … of)`);
    if (text === "(") parens.push(forHead);
    if (text === ")") parens.pop();
    forHead = text === "for";
    prev = text;
  }
  return found;
}

// endsOperand says whether a token can end an operand, so that a / after it divides.
function endsOperand(token: string): boolean {
  if (token === ")" || token === "]") return true;
  if (/^[A-Za-z_$][\w$]*$/.test(token)) return !BEFORE_OPERAND.has(token);
  return /^[0-9.'"]/.test(token);
}

// withOldNode runs an entry under node with process.version faked to
// OLD_VERSION, and with every require() after that reported on stderr.
function withOldNode(entry: string, args: string[]) {
  const fake = path.join(tmp, "old-node.js");
  fs.writeFileSync(
    fake,
    [
      `Object.defineProperty(process, "version", { value: "v${OLD_VERSION}" });`,
      `Object.defineProperty(process.versions, "node", { value: "${OLD_VERSION}" });`,
      `var Module = require("module");`,
      `var load = Module.prototype.require;`,
      `Module.prototype.require = function (id) { process.stderr.write("required " + id + "\\n"); return load.apply(this, arguments); };`,
      "",
    ].join("\n"),
  );
  return spawnSync(process.execPath, ["--require", fake, entry, ...args], { encoding: "utf8", timeout: STEP_MS, env: { ...process.env, NO_COLOR: "1" } });
}

// An entry written as the check must be written, and one that breaks the rule.
const GOOD_ENTRY = [
  "#!/usr/bin/env node",
  '"use strict";',
  "// comment with => and `ticks` and const",
  "(function () {",
  "    var v = process.versions.node;",
  "    var re = /=>`/g;",
  "    if (Number(v.split('.')[0]) < 18 && !re.test('') && 4 / 2 === 2) {",
  `        process.stderr.write("${CHECK}" + v + "\\n");`,
  "        process.exit(1);",
  "    }",
  "})();",
  "for (var k in {}) {}",
  'var x = { of: 1 }.of + exports.import + Math.class;',
  'require("./later.js");',
  "",
].join("\n");

test("the ES5 rule passes an entry written with var and functions, whose check comes before its first require()", () => {
  assert.deepEqual(newerSyntax(GOOD_ENTRY), []);
  assert.ok(prelude(GOOD_ENTRY).includes(CHECK));
  assert.ok(!prelude(GOOD_ENTRY).includes("later"));
});

test("the ES5 rule refuses arrows, template literals, spread, let/const/class/async/await, modules and for…of", () => {
  const bad = [
    "var f = (a) => a;",
    "var s = `x${f}`;",
    "f(...[1]);",
    "let a = 1; const b = 2;",
    "class C {}",
    "async function g() { await 1; }",
    "import x from 'y';",
    "export var z;",
    "for (var i of []) {}",
    "var n = a?.b ?? 2 ** 3;",
  ].join("\n");
  assert.deepEqual(newerSyntax(bad), [
    "1: =>",
    "2: `x${",
    "3: ...",
    "4: let",
    "4: const",
    "5: class",
    "6: async",
    "6: await",
    "7: import",
    "8: export",
    "9: of (for … of)",
    "10: ?.",
    "10: ??",
    "10: **",
  ]);
});

test("the faked old Node makes the sample entry print the one line and exit 1 before requiring anything", () => {
  const entry = path.join(tmp, "good.js");
  fs.writeFileSync(entry, GOOD_ENTRY);
  const r = withOldNode(entry, ["--version"]);
  assert.equal(r.stderr, `${CHECK}${OLD_VERSION}\n`);
  assert.equal(r.stdout, "");
  assert.equal(r.status, 1);
});

// Until the entry carries the check, the tests of the real entry say so and skip.
const entrySource = fs.existsSync(LAP) ? fs.readFileSync(LAP, "utf8") : "";
const skip = !entrySource.includes("needs Node 18 or newer")
  ? `${path.relative(process.cwd(), LAP) || LAP} has no "needs Node 18 or newer" check yet (run make build once lap.ts has it)`
  : false;

test("build/lap.js is ES5 throughout, and checks the Node version before its first require()", { skip }, () => {
  const head = prelude(entrySource);
  assert.ok(head.includes(CHECK), `the version check must come before the first require() of build/lap.js:\n${head}`);
  assert.deepEqual(
    newerSyntax(entrySource),
    [],
    "syntax newer than ES5 in build/lap.js, by line: an old Node fails to parse the file before the check can run; move it into a module the entry requires after the check",
  );
});

test("on Node 16, lap prints that it needs Node 18 or newer and exits 1, loading nothing", { skip }, () => {
  for (const args of [["--version"], ["agents"], []]) {
    const r = withOldNode(LAP, args);
    assert.equal(r.stderr, `${CHECK}${OLD_VERSION}\n`, `lap ${args.join(" ")}`);
    assert.equal(r.stdout, "", `lap ${args.join(" ")}`);
    assert.equal(r.status, 1, `lap ${args.join(" ")}`);
  }
});

test("on this Node the check lets lap run", { skip }, () => {
  const r = spawnSync(process.execPath, [LAP, "--version"], { encoding: "utf8", timeout: STEP_MS });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^lap \d/);
});
