import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { productionTree } from "./deptree.js";
import { type Bom, hashes, licenses, parseSbomArgs, purl, render, runSbom, sbom } from "./sbom.js";
import { REPO } from "../testutil/repo.js";

const lock = () => JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as unknown;
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { name: string; version: string; license: string };
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
// 2026-01-02T03:04:05Z
const EPOCH = 1767323045;

// A lock with a scoped package, a package nested under it that shadows a
// top-level one, a licence expression, and a dev package that must not appear.
const SAMPLE = {
  name: "app",
  lockfileVersion: 3,
  packages: {
    "": { name: "app", version: "1.2.3", license: "Apache-2.0", dependencies: { "@scope/a": "^1", c: "^3" }, devDependencies: { tool: "9" } },
    "node_modules/@scope/a": { version: "1.0.0", license: "(MIT OR Apache-2.0)", integrity: "sha512-AAEC", dependencies: { c: "^2" } },
    "node_modules/@scope/a/node_modules/c": { version: "2.0.0", license: "ISC", integrity: "sha1-AAE= sha512-/w==" },
    "node_modules/c": { version: "3.0.0", license: "SEE LICENSE IN LICENSE.txt", optionalDependencies: { "@scope/a": "^1" } },
    "node_modules/tool": { version: "9.9.9", license: "ISC", dev: true, dependencies: { c: "^3" } },
  },
};

function parse(text: string): Bom {
  return JSON.parse(text) as Bom;
}

test("the bill of materials is CycloneDX 1.5 JSON naming lap, its version, licence and commit, dated at the commit", () => {
  const bom = parse(render(sbom({ lock: lock(), commit: COMMIT, epoch: EPOCH })));
  assert.equal(bom.bomFormat, "CycloneDX");
  assert.equal(bom.specVersion, "1.5");
  assert.equal(bom.version, 1);
  assert.match(bom.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(bom.metadata.timestamp, "2026-01-02T03:04:05Z");
  assert.deepEqual(bom.metadata.component, {
    type: "application",
    "bom-ref": `pkg:npm/lap@${pkg.version}`,
    name: pkg.name,
    version: pkg.version,
    purl: `pkg:npm/lap@${pkg.version}`,
    licenses: [{ license: { id: pkg.license } }],
    properties: [{ name: "lap:git:commit", value: COMMIT }],
  });
});

test("its components are exactly the lock's production tree, each with purl, licence and the lock's integrity in hex", () => {
  const bom = sbom({ lock: lock(), commit: COMMIT, epoch: EPOCH });
  const tree = productionTree(lock());
  assert.deepEqual(bom.components.map((c) => `${c.name}@${c.version}`), tree.map((d) => `${d.path[d.path.length - 1]}@${d.version}`));
  assert.deepEqual(bom.components.map((c) => c.name), ["ws"]);
  for (const [i, c] of bom.components.entries()) {
    const d = tree[i];
    assert.equal(c.type, "library");
    assert.equal(c.purl, `pkg:npm/${c.name}@${c.version}`);
    assert.equal(c["bom-ref"], c.purl);
    assert.deepEqual(c.licenses, [{ license: { id: d.license } }]);
    const [, b64] = /^sha512-(.+)$/.exec(d.integrity)!;
    assert.deepEqual(c.hashes, [{ alg: "SHA-512", content: Buffer.from(b64, "base64").toString("hex") }]);
    assert.match(c.hashes![0].content, /^[0-9a-f]{128}$/);
  }
  assert.deepEqual(bom.dependencies, [
    { ref: `pkg:npm/lap@${pkg.version}`, dependsOn: ["pkg:npm/ws@8.23.0"] },
    { ref: "pkg:npm/ws@8.23.0", dependsOn: [] },
  ]);
});

test("the graph follows Node's lookup: a nested copy wins over the top-level one, dev packages are left out", () => {
  const bom = sbom({ lock: SAMPLE, commit: "c0ffee-dirty", epoch: 0 });
  assert.equal(bom.metadata.timestamp, "1970-01-01T00:00:00Z");
  assert.deepEqual(bom.components.map((c) => c["bom-ref"]), ["pkg:npm/%40scope/a@1.0.0", "pkg:npm/c@2.0.0", "pkg:npm/c@3.0.0"]);
  assert.deepEqual(bom.dependencies, [
    { ref: "pkg:npm/app@1.2.3", dependsOn: ["pkg:npm/%40scope/a@1.0.0", "pkg:npm/c@3.0.0"] },
    { ref: "pkg:npm/%40scope/a@1.0.0", dependsOn: ["pkg:npm/c@2.0.0"] },
    { ref: "pkg:npm/c@2.0.0", dependsOn: [] },
    { ref: "pkg:npm/c@3.0.0", dependsOn: ["pkg:npm/%40scope/a@1.0.0"] },
  ]);
  const refs = new Set([bom.metadata.component["bom-ref"], ...bom.components.map((c) => c["bom-ref"])]);
  for (const d of bom.dependencies) for (const r of d.dependsOn) assert.ok(refs.has(r), r);
  assert.deepEqual(bom.components.map((c) => c.licenses), [
    [{ expression: "(MIT OR Apache-2.0)" }],
    [{ license: { id: "ISC" } }],
    [{ license: { name: "SEE LICENSE IN LICENSE.txt" } }],
  ]);
  assert.equal(bom.components[2].hashes, undefined, "no integrity in the lock, no hash");
});

test("integrity strings become hex hashes under CycloneDX's algorithm names; unknown ones are dropped", () => {
  assert.deepEqual(hashes("sha1-AAE= sha512-/w== md5-AAAA"), [
    { alg: "SHA-1", content: "0001" },
    { alg: "SHA-512", content: "ff" },
  ]);
  assert.deepEqual(hashes(undefined), []);
  assert.equal(purl("@types/node", "1.0.0"), "pkg:npm/%40types/node@1.0.0");
  assert.equal(licenses(undefined), undefined);
});

test("the same commit gives the same bytes, another commit another serial number", () => {
  const a = render(sbom({ lock: lock(), commit: COMMIT, epoch: EPOCH }));
  assert.equal(render(sbom({ lock: lock(), commit: COMMIT, epoch: EPOCH })), a);
  const b = parse(render(sbom({ lock: lock(), commit: "other", epoch: EPOCH })));
  assert.notEqual(b.serialNumber, parse(a).serialNumber);
});

test("the command needs the commit and its time, and refuses a lock without packages", () => {
  assert.throws(() => parseSbomArgs(["--epoch", "1"]), /--commit is required/);
  assert.throws(() => parseSbomArgs(["--commit", "x", "--epoch", "yesterday"]), /--epoch/);
  assert.deepEqual(parseSbomArgs(["--commit", "x", "--epoch", "5"]), { lock: "package-lock.json", commit: "x", epoch: 5 });
  assert.throws(() => sbom({ lock: { lockfileVersion: 1 }, commit: "x", epoch: 0 }), /lockfile version 2 or later/);
  let text = "";
  const out = new Writable({ write: (c: Buffer, _e, done) => ((text += c.toString()), done()) });
  runSbom(["--lock", path.join(REPO, "package-lock.json"), "--commit", COMMIT, "--epoch", String(EPOCH)], out);
  assert.equal(text, render(sbom({ lock: lock(), commit: COMMIT, epoch: EPOCH })));
});
