import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { MANIFEST, cached, checkIntegrity, tarballs, vendor } from "./vendor.js";
import { REPO } from "../testutil/repo.js";

const lock = () => JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as unknown;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-vendor-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const integrity = (data: Buffer) => `sha512-${createHash("sha512").update(data).digest("base64")}`;
const GOOD = Buffer.from("the published tarball");
const EVIL = Buffer.from("a tarball someone swapped");

// A lock with a scoped package and one nested in it, whose "registry" is a
// fetch that writes the given bytes and counts its calls.
function sample(bytes: Buffer) {
  const lockJson = {
    lockfileVersion: 3,
    packages: {
      "": { name: "app", version: "1.0.0" },
      "node_modules/@scope/a": { version: "1.0.0", integrity: integrity(GOOD) },
      "node_modules/@scope/a/node_modules/b": { version: "2.0.0", integrity: integrity(GOOD) },
      "node_modules/dev": { version: "1.0.0", dev: true, integrity: "sha512-AAAA" },
    },
  };
  const calls: string[] = [];
  const fetch = (spec: string, dir: string) => {
    calls.push(spec);
    const name = spec.replace(/^@/, "").replace(/@/, "-").replace(/\//g, "-");
    fs.writeFileSync(path.join(dir, `${name}.tgz`), bytes);
  };
  return { lock: lockJson, calls, fetch };
}

test("the tarballs to ship are the lock's production tree, named as npm pack names them, with where each unpacks", () => {
  const ws = tarballs(lock());
  assert.equal(ws.length, 1);
  assert.deepEqual({ ...ws[0], integrity: undefined }, { name: "ws", version: "8.23.0", integrity: undefined, file: "ws-8.23.0.tgz", dir: "node_modules/ws" });
  assert.deepEqual(
    tarballs(sample(GOOD).lock).map((t) => [t.name, t.file, t.dir]),
    [
      ["@scope/a", "scope-a-1.0.0.tgz", "node_modules/@scope/a"],
      ["b", "b-2.0.0.tgz", "node_modules/@scope/a/node_modules/b"],
    ],
  );
});

test("vendor writes each tarball and a MANIFEST in install order, and a second run needs no registry", () => {
  const s = sample(GOOD);
  const cache = path.join(tmp, "cache1");
  const out = path.join(tmp, "out1");
  vendor({ lock: s.lock, cache, out, fetch: s.fetch });
  assert.deepEqual(s.calls, ["@scope/a@1.0.0", "b@2.0.0"]);
  assert.deepEqual(fs.readdirSync(out).sort(), [MANIFEST, "b-2.0.0.tgz", "scope-a-1.0.0.tgz"]);
  assert.ok(fs.readFileSync(path.join(out, "scope-a-1.0.0.tgz")).equals(GOOD));
  assert.equal(fs.readFileSync(path.join(out, MANIFEST), "utf8"), "scope-a-1.0.0.tgz node_modules/@scope/a\nb-2.0.0.tgz node_modules/@scope/a/node_modules/b\n");

  const offline = () => assert.fail("the registry was asked again");
  vendor({ lock: s.lock, cache, out: path.join(tmp, "out2"), fetch: offline });
  assert.deepEqual(fs.readdirSync(cache).sort(), ["b-2.0.0.tgz", "scope-a-1.0.0.tgz"], "only good tarballs, no leftovers");
});

test("a tarball from the registry that does not match the lock fails the build and is not cached", () => {
  const s = sample(EVIL);
  const cache = path.join(tmp, "cache2");
  assert.throws(
    () => vendor({ lock: s.lock, cache, out: path.join(tmp, "out3"), fetch: s.fetch }),
    /the registry's scope-a-1\.0\.0\.tgz does not match package-lock\.json: its sha512 is sha512-.+, the lock says sha512-/,
  );
  assert.deepEqual(fs.readdirSync(cache), []);
});

test("a cached tarball changed since it was fetched fails the build, naming the file to remove", () => {
  const s = sample(GOOD);
  const cache = path.join(tmp, "cache3");
  const [t] = tarballs(s.lock);
  cached(t, cache, s.fetch);
  fs.writeFileSync(path.join(cache, t.file), EVIL);
  assert.throws(() => cached(t, cache, s.fetch), /scope-a-1\.0\.0\.tgz \(remove it to fetch it again\) does not match package-lock\.json/);
  assert.equal(s.calls.length, 1);
});

test("integrity is checked with every hash the lock gives, and a lock with none is refused", () => {
  checkIntegrity(GOOD, `sha1-${createHash("sha1").update(GOOD).digest("base64")} ${integrity(GOOD)}`, "x");
  assert.throws(() => checkIntegrity(GOOD, `sha1-AAAA ${integrity(GOOD)}`, "x"), /its sha1 is/);
  assert.throws(() => checkIntegrity(GOOD, "(none in the lock)", "x"), /no integrity hash to check it against/);
});
