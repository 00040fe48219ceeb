import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, test } from "node:test";
import { BEGIN, END, optionalPeers, parseDeptreeArgs, productionTree, readBlock, render, replaceBlock, runDeptree } from "./deptree.js";
import { REPO } from "../testutil/repo.js";

const ROOT = REPO;
const LOCK = path.join(ROOT, "package-lock.json");
const README = path.join(ROOT, "README.md");
const lock = () => JSON.parse(fs.readFileSync(LOCK, "utf8")) as unknown;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-deptree-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sink(): Writable & { text: string } {
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.text += chunk.toString("utf8");
      done();
    },
  }) as Writable & { text: string };
  out.text = "";
  return out;
}

// A lock with one runtime package nested under another, one dev package and an optional peer.
const SAMPLE = {
  lockfileVersion: 3,
  packages: {
    "": { name: "lap", version: "0.1.0", license: "MIT" },
    "node_modules/@scope/a": { version: "1.0.0", license: "(MIT OR Apache-2.0)", integrity: "sha512-AAAAAAAAAAAAAAAAAAAAAAAA==" },
    "node_modules/@scope/a/node_modules/b": { version: "2.0.0", integrity: "sha1-short" },
    "node_modules/c": { version: "3.0.0", license: "A|B", peerDependenciesMeta: { gone: { optional: true }, b: { optional: true }, req: {} } },
    "node_modules/tool": { version: "9.9.9", license: "ISC", dev: true, peerDependenciesMeta: { devpeer: { optional: true } } },
  },
};

test("the run-time tree in package-lock.json is exactly one package, ws", () => {
  assert.deepEqual(productionTree(lock()).map((d) => d.path.join("/")), ["ws"]);
});

test("the README's dependency table is what the script generates from package-lock.json", () => {
  const readme = fs.readFileSync(README, "utf8");
  assert.equal(readBlock(readme), render(lock()), "README.md is out of date with package-lock.json: run make deptree UPDATE=1");
});

test("the production tree leaves out lap itself and dev packages, and names nested packages by their chain", () => {
  assert.deepEqual(productionTree(SAMPLE), [
    { path: ["@scope/a"], version: "1.0.0", license: "(MIT OR Apache-2.0)", integrity: "sha512-AAAAAAAAAAAAAAAAAAAAAAAA==" },
    { path: ["@scope/a", "b"], version: "2.0.0", license: "(none in the lock)", integrity: "sha1-short" },
    { path: ["c"], version: "3.0.0", license: "A|B", integrity: "(none in the lock)" },
  ]);
});

test("optional peers that are installed, required, or only wanted by dev packages are not listed", () => {
  assert.deepEqual(optionalPeers(SAMPLE), ["gone"]);
});

test("the table shortens integrity hashes, escapes pipes, and counts the packages", () => {
  assert.equal(
    render(SAMPLE),
    [
      "Generated from `package-lock.json` by `make deptree`: 3 packages at run time.",
      "",
      "| package | version | license | integrity (from the lock, shortened) |",
      "|---|---|---|---|",
      "| `@scope/a` | 1.0.0 | (MIT OR Apache-2.0) | `sha512-AAAAAAAAAAAAAAAA…` |",
      "| `@scope/a › b` | 2.0.0 | (none in the lock) | `sha1-short` |",
      "| `c` | 3.0.0 | A\\|B | `(none in the lock)` |",
      "",
      "Optional peer dependencies, not installed and not shipped: `gone`.",
      "",
    ].join("\n"),
  );
});

test("a lock without packages (lockfile version 1) is refused with a reason", () => {
  assert.throws(() => render({ lockfileVersion: 1, dependencies: {} }), /lockfile version 2 or later/);
});

test("the block between the markers is replaced and the rest of the README kept", () => {
  const readme = `# x\n\n${BEGIN}\nold\n${END}\n\nafter\n`;
  const next = replaceBlock(readme, "new\n");
  assert.equal(next, `# x\n\n${BEGIN}\nnew\n${END}\n\nafter\n`);
  assert.equal(readBlock(next), "new\n");
  assert.throws(() => readBlock("# no block\n"), /no <!-- deptree:begin -->/);
  assert.throws(() => replaceBlock(`${END}\n${BEGIN}\n`, "x"), /no <!-- deptree:begin -->/);
});

test("make deptree prints the block, and UPDATE=1 rewrites only a README that is out of date", () => {
  assert.deepEqual(parseDeptreeArgs([]), { lock: "package-lock.json" });
  assert.deepEqual(parseDeptreeArgs(["--lock", "l.json", "--update", "R.md"]), { lock: "l.json", update: "R.md" });

  const lockFile = path.join(tmp, "lock.json");
  fs.writeFileSync(lockFile, JSON.stringify(SAMPLE));
  const printed = sink();
  runDeptree({ lock: lockFile }, printed);
  assert.equal(printed.text, render(SAMPLE));

  const readme = path.join(tmp, "README.md");
  fs.writeFileSync(readme, `intro\n${BEGIN}\nstale\n${END}\n`);
  const first = sink();
  runDeptree({ lock: lockFile, update: readme }, first);
  assert.equal(first.text, `${readme}: dependency tree rewritten\n`);
  assert.equal(fs.readFileSync(readme, "utf8"), `intro\n${BEGIN}\n${render(SAMPLE)}${END}\n`);
  const second = sink();
  runDeptree({ lock: lockFile, update: readme }, second);
  assert.equal(second.text, `${readme}: up to date\n`);
});
