import { test } from "node:test";
import assert from "node:assert/strict";
import { LapError } from "./errors.js";
import { MAX_DURATION_MS, hideSecrets, mask, overrides, parseDuration, readSettings, VARIABLES } from "./settings.js";

const usage = (re: RegExp) => (err: unknown) => err instanceof LapError && err.code === 2 && re.test(err.message);

test("every variable is read once into typed settings, with the defaults when unset", () => {
  const s = readSettings({}, "/home/u");
  assert.equal(s.configFile, "/home/u/.lap/config.json");
  assert.equal(s.profile, "default");
  assert.equal(s.ttyTokenInQuery, false);
  assert.equal(s.keepaliveMs, undefined);
  assert.deepEqual(s.proxy, { https: undefined, http: undefined, noProxy: "" });

  const t = readSettings({
    LAP_KEEPALIVE: "5s", LAP_RECONNECT_TIMEOUT: "2m", LAP_HTTP_TIMEOUT: "250ms", LAP_TTY_TOKEN_IN_QUERY: "yes",
    https_proxy: "http://lower:1", HTTPS_PROXY: "http://upper:1", HTTP_PROXY: "http://plain:1", NO_PROXY: "localhost",
  }, "/h");
  assert.equal(t.keepaliveMs, 5000);
  assert.equal(t.reconnectTimeoutMs, 120_000);
  assert.equal(t.httpTimeoutMs, 250);
  assert.equal(t.ttyTokenInQuery, true);
  assert.deepEqual(t.proxy, { https: { name: "https_proxy", value: "http://lower:1" }, http: { name: "HTTP_PROXY", value: "http://plain:1" }, noProxy: "localhost" });
});

test("a bad variable is a usage error naming it, before anything is sent", () => {
  assert.throws(() => readSettings({ LAP_KEEPALIVE: "600h" }, "/h"), usage(/^LAP_KEEPALIVE '600h' is out of range$/));
  assert.throws(() => readSettings({ LAP_HTTP_TIMEOUT: "soon" }, "/h"), usage(/^LAP_HTTP_TIMEOUT 'soon' is not a duration$/));
  assert.throws(() => readSettings({ LAP_RECONNECT_TIMEOUT: "0" }, "/h"), usage(/out of range/));
  assert.throws(() => readSettings({ LAP_TTY_TOKEN_IN_QUERY: "maybe" }, "/h"), usage(/^LAP_TTY_TOKEN_IN_QUERY 'maybe' is not 1 or 0$/));
  assert.throws(() => readSettings({ LAP_TTY_FALLBACK: "ftp://x/tty?token=secret" }, "/h"), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
  assert.throws(() => readSettings({ LAP_TTY_TOKEN: "a\r\nX-Evil: 1" }, "/h"), usage(/LAP_TTY_TOKEN holds control characters/));
  // Node would refuse these in a header only once lap had connected.
  assert.throws(() => readSettings({ LAP_TTY_TOKEN: "tok\u2026" }, "/h"), usage(/^LAP_TTY_TOKEN holds characters a header cannot carry$/));
  assert.throws(() => readSettings({ LAP_MASTER_KEY: "sk k\u00e9y" }, "/h"), usage(/^LAP_MASTER_KEY holds characters a header cannot carry$/));
  assert.throws(() => readSettings({ LAP_PROFILE: "../x" }, "/h"), usage(/is not a profile name/));
});

test("durations are bounded: at most a day, at least a millisecond", () => {
  assert.equal(parseDuration("24h", "--timeout"), MAX_DURATION_MS);
  assert.equal(parseDuration("1ms", "--timeout"), 1);
  for (const bad of ["25h", "0", "0.1ms", "99999999999h"]) assert.throws(() => parseDuration(bad, "--timeout"), /out of range/, bad);
});

test("lap config's overrides come from the same table, secrets and URL credentials masked", () => {
  const all = Object.fromEntries(VARIABLES.map((v) => [v.name, "x"]));
  assert.deepEqual(Object.keys(overrides(all)), VARIABLES.filter((v) => !v.foreign).map((v) => v.name));
  const o = overrides({
    LAP_KEEPALIVE: "5s", LAP_MASTER_KEY: "sk-0123456789abcdef", LAP_BASE_URL: "http://user:pass@lap.example.com/",
    LAP_TTY_FALLBACK: "ws://gw/tty?token=tty-secret&x=1", LAP_TTY_TOKEN: "short",
  });
  assert.deepEqual(o, {
    LAP_BASE_URL: "http://…@lap.example.com/", LAP_MASTER_KEY: "…cdef", LAP_TTY_TOKEN: "****",
    LAP_TTY_FALLBACK: "ws://gw/tty?token=…&x=…", LAP_KEEPALIVE: "5s",
  });
  assert.equal(hideSecrets("https://a:b@h:1/p?q=1"), "https://…@h:1/p?q=…");
  assert.equal(mask("0123456789abcdef"), "…cdef");
  assert.equal(mask("0123456789abcde"), "****");
});
