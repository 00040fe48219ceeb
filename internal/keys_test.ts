import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_DETACH_KEYS, detachRule, parseDetachKeys } from "./keys.js";
import { LapError } from "./errors.js";

test("detach key specs in docker's syntax parse into keys and a label", () => {
  const table: [string, number[], string][] = [
    ["ctrl-d", [0x04], "Ctrl-D"],
    ["ctrl-p,ctrl-q", [0x10, 0x11], "Ctrl-P Ctrl-Q"],
    ["CTRL-P, Ctrl-Q", [0x10, 0x11], "Ctrl-P Ctrl-Q"],
    ["ctrl-]", [0x1d], "Ctrl-]"],
    ["ctrl-@", [0x00], "Ctrl-@"],
    ["ctrl-[", [0x1b], "Ctrl-["],
    ["ctrl-\\", [0x1c], "Ctrl-\\"],
    ["ctrl-\\\\", [0x1c], "Ctrl-\\"],
    ["ctrl-^", [0x1e], "Ctrl-^"],
    ["ctrl-_", [0x1f], "Ctrl-_"],
    ["ctrl-a,ctrl-z", [0x01, 0x1a], "Ctrl-A Ctrl-Z"],
    ["q", [0x71], "q"],
    ["ctrl-x,~", [0x18, 0x7e], "Ctrl-X ~"],
    ["none", [], ""],
    ["NONE", [], ""],
  ];
  for (const [spec, keys, label] of table) assert.deepEqual(parseDetachKeys(spec), { keys, label }, spec);
  assert.equal(DEFAULT_DETACH_KEYS, "ctrl-d");
});

test("a bad detach key spec is a usage error naming the key", () => {
  const table: [string, string][] = [
    ["ctrl-x,foo", "--detach-keys 'ctrl-x,foo': 'foo' is not a key"],
    ["", "--detach-keys '': no keys given"],
    ["ctrl-p,", "--detach-keys 'ctrl-p,': an empty key between commas"],
    ["ctrl-1", "--detach-keys 'ctrl-1': 'ctrl-1' is not a key"],
    ["é", "--detach-keys 'é': 'é' is not a key"],
    ["none,ctrl-p", "--detach-keys 'none,ctrl-p': 'none' is not a key"],
    ["ctrl-\x1b", "--detach-keys 'ctrl-\\x1b': 'ctrl-\\x1b' is not a key"],
  ];
  for (const [spec, message] of table) {
    assert.throws(() => parseDetachKeys(spec), (err: unknown) => {
      assert.ok(err instanceof LapError);
      assert.equal(err.message, message);
      assert.equal(err.code, 2);
      assert.match(err.hint, /ctrl-p,ctrl-q/);
      return true;
    }, spec);
  }
  assert.throws(() => parseDetachKeys("x y", `config f: "detachKeys"`, 1), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, `config f: "detachKeys" 'x y': 'x y' is not a key`);
    assert.equal(err.code, 1);
    return true;
  });
});

interface Run {
  // What was sent after each read, in order.
  sends: string[];
  // The read that detached, or -1.
  detachedAt: number;
}

function run(spec: string, reads: (string | Buffer)[]): Run {
  const rule = detachRule(parseDetachKeys(spec));
  const sends: string[] = [];
  for (let i = 0; i < reads.length; i++) {
    const { send, detach } = rule(Buffer.from(reads[i] as string, "latin1"));
    sends.push(send.toString("latin1"));
    if (detach) return { sends, detachedAt: i };
  }
  return { sends, detachedAt: -1 };
}

const KITTY_CTRL_D = "\x1b[100;5u";

// [spec, reads, what is sent after each read, the read that detaches (-1: none)]
const CASES: [string, string[], string[], number][] = [
  // The default keeps lap's first rule: a read that is just Ctrl-D.
  ["ctrl-d", ["\x04"], [""], 0],
  ["ctrl-d", ["ls\r", "\x04"], ["ls\r", ""], 1],
  ["ctrl-d", ["a\x04b"], ["a\x04b"], -1],
  ["ctrl-d", ["\x04\x04"], ["\x04\x04"], -1],
  ["ctrl-d", [KITTY_CTRL_D], [""], 0],
  ["ctrl-d", ["\x1b[100;5:1u"], [""], 0],
  ["ctrl-d", ["\x1b[100;5:2u"], [""], 0],
  ["ctrl-d", ["\x1b[27;5;100~"], [""], 0],
  ["ctrl-d", ["\x1b[100;69u"], [""], 0],
  ["ctrl-d", ["\x1b[57442;5u\x1b[100;5u\x1b[100;5:3u"], [""], 0],
  ["ctrl-d", ["\x1b[100;5:3u"], ["\x1b[100;5:3u"], -1],
  ["ctrl-d", ["\x1b[100;7u"], ["\x1b[100;7u"], -1],
  ["ctrl-d", ["\x1b[100u"], ["\x1b[100u"], -1],
  ["ctrl-d", ["x" + KITTY_CTRL_D], ["x" + KITTY_CTRL_D], -1],
  ["ctrl-d", [KITTY_CTRL_D + KITTY_CTRL_D], [KITTY_CTRL_D + KITTY_CTRL_D], -1],
  ["ctrl-d", ["\x1b[A", "\x1b", "\x1b[100;5"], ["\x1b[A", "\x1b", "\x1b[100;5"], -1],
  ["ctrl-d", ["\x1b[200~\x04\x1b[201~"], ["\x1b[200~\x04\x1b[201~"], -1],

  // A sequence: a partial match waits, and goes out unchanged when the next key differs.
  ["ctrl-p,ctrl-q", ["\x10", "\x11"], ["", ""], 1],
  ["ctrl-p,ctrl-q", ["\x10\x11"], [""], 0],
  ["ctrl-p,ctrl-q", ["ab\x10\x11cd"], ["ab"], 0],
  ["ctrl-p,ctrl-q", ["\x10", "x"], ["", "\x10x"], -1],
  ["ctrl-p,ctrl-q", ["a\x10", "\x11"], ["a", ""], 1],
  ["ctrl-p,ctrl-q", ["\x10\x10\x11"], ["\x10"], 0],
  ["ctrl-p,ctrl-q", ["\x10", "\x10", "\x11"], ["", "\x10", ""], 2],
  ["ctrl-p,ctrl-q", ["\x10", "\x1b[A"], ["", "\x10\x1b[A"], -1],
  ["ctrl-p,ctrl-q", ["\x11\x10"], ["\x11"], -1],
  // Anything but the default sends a lone Ctrl-D on like any other key.
  ["ctrl-p,ctrl-q", ["\x04"], ["\x04"], -1],
  ["ctrl-]", ["\x04"], ["\x04"], -1],
  // Extended keyboard encodings, alone or mixed with plain bytes.
  ["ctrl-p,ctrl-q", ["\x1b[112;5u", "\x1b[113;5u"], ["", ""], 1],
  ["ctrl-p,ctrl-q", ["\x1b[27;5;112~\x1b[27;5;113~"], [""], 0],
  ["ctrl-p,ctrl-q", ["\x10", "\x1b[113;5:1u"], ["", ""], 1],
  ["ctrl-p,ctrl-q", ["\x1b[112;5u", "\x1b[112;5:3u", "\x1b[57442;5u", "\x1b[113;5u"], ["", "", "", ""], 3],
  ["ctrl-p,ctrl-q", ["\x1b[112;5u", "\x1b[112;5:3u", "x"], ["", "", "\x1b[112;5u\x1b[112;5:3ux"], -1],
  ["ctrl-p,ctrl-q", ["\x1b[112;5:3u"], ["\x1b[112;5:3u"], -1],
  // A cut escape sequence waits for its rest; a lone ESC is the Escape key and does not.
  ["ctrl-p,ctrl-q", ["\x1b"], ["\x1b"], -1],
  ["ctrl-p,ctrl-q", ["\x1b["], ["\x1b["], -1],
  ["ctrl-p,ctrl-q", ["\x1b[11", "2;5u", "\x11"], ["", "", ""], 2],
  ["ctrl-p,ctrl-q", ["\x1b[1", "A"], ["", "\x1b[1A"], -1],
  ["ctrl-p,ctrl-q", ["\x10\x1b", "[113;5u"], ["", ""], 1],
  ["ctrl-p,ctrl-q", ["\x10\x1b", "x"], ["", "\x10\x1bx"], -1],
  ["ctrl-p,ctrl-q", ["\x10\x1bx"], ["\x10\x1bx"], -1],
  // Keys inside a bracketed paste never count, and a paste breaks a match under way.
  ["ctrl-p,ctrl-q", ["\x1b[200~a\x10\x11b\x1b[201~", "\x10\x11"], ["\x1b[200~a\x10\x11b\x1b[201~", ""], 1],
  ["ctrl-p,ctrl-q", ["\x10", "\x1b[200~hi\x1b[201~"], ["", "\x10\x1b[200~hi\x1b[201~"], -1],
  ["ctrl-p,ctrl-q", ["\x1b[200~\x10", "\x11\x1b", "[201~\x10\x11"], ["\x1b[200~\x10", "\x11", "\x1b[201~"], 2],
  // Single keys, symbols, printable characters.
  ["ctrl-]", ["a\x1db"], ["a"], 0],
  ["ctrl-]", ["\x1b[93;5u"], [""], 0],
  ["ctrl-]", ["\x1b[27;5;93~"], [""], 0],
  ["ctrl-@", ["\x00"], [""], 0],
  ["ctrl-@", ["\x1b[32;5u"], [""], 0],
  ["ctrl-@", ["\x1b[64;5u"], [""], 0],
  ["ctrl-[,q", ["\x1b", "q"], ["", ""], 1],
  ["ctrl-[,q", ["\x1b", "[A"], ["", "\x1b[A"], -1],
  ["ctrl-[,q", ["\x1b[A"], ["\x1b[A"], -1],
  ["q", ["q"], [""], 0],
  ["q", ["\x1b[113u"], [""], 0],
  ["q", ["\x1b[113;5u"], ["\x1b[113;5u"], -1],
  ["Q", ["\x1b[113;2u"], [""], 0],
  ["Q", ["q"], ["q"], -1],
  ["ctrl-p,ctrl-q", ["\x1b[?1u", "\x1b[>1;10c"], ["\x1b[?1u", "\x1b[>1;10c"], -1],
  // none: every byte goes to the remote program.
  ["none", ["\x04", "\x10\x11", KITTY_CTRL_D], ["\x04", "\x10\x11", KITTY_CTRL_D], -1],
];

test("the detach rule holds, sends and detaches as the table says, read by read", () => {
  for (const [spec, reads, sends, detachedAt] of CASES) {
    const label = `${spec} ${JSON.stringify(reads)}`;
    assert.deepEqual(run(spec, reads), { sends, detachedAt }, label);
  }
});

test("sequences match the same when every byte arrives in a read of its own", () => {
  for (const [spec, reads, sends, detachedAt] of CASES) {
    // The default looks at whole reads by design (a paste is not a key press).
    if (spec === "ctrl-d" || spec === "none") continue;
    const whole = reads.join("");
    const bytes = [...Buffer.from(whole, "latin1")].map((b) => String.fromCharCode(b));
    const split = run(spec, bytes);
    const label = `${spec} ${JSON.stringify(reads)} one byte at a time`;
    // A lone ESC read is the Escape key: split after an ESC, a sequence that
    // starts with one is (rightly) not taken for an encoded key.
    if (whole.includes("\x1b") && !spec.startsWith("ctrl-[")) continue;
    assert.equal(split.sends.join(""), sends.slice(0, detachedAt < 0 ? undefined : detachedAt + 1).join(""), label);
    assert.equal(split.detachedAt >= 0, detachedAt >= 0, label);
  }
});

test("an encoded key cut anywhere after its first digit is still recognised", () => {
  for (const key of ["\x1b[112;5u", "\x1b[27;5;112~", "\x1b[112;5:1u"]) {
    for (let cut = 3; cut < key.length; cut++) {
      const r = run("ctrl-p,ctrl-q", [key.slice(0, cut), key.slice(cut), "\x11"]);
      assert.deepEqual(r, { sends: ["", "", ""], detachedAt: 2 }, `${JSON.stringify(key)} cut at ${cut}`);
    }
    // After ctrl-p a sequence is under way: even a lone ESC waits for the rest.
    const d = run("ctrl-p,ctrl-q", ["x\x10", ...key.replace("112", "113")]);
    assert.equal(d.detachedAt, key.length, `ctrl-q ${JSON.stringify(key)} byte by byte after ctrl-p`);
    assert.equal(d.sends.join(""), "x");
  }
});

test("a long escape sequence is not held: its bytes go out as they are", () => {
  const long = "\x1b[" + "1;".repeat(40) + "u";
  const r = run("ctrl-p,ctrl-q", [long.slice(0, 50), long.slice(50)]);
  assert.equal(r.sends.join(""), long);
  assert.equal(r.sends[0], long.slice(0, 50));
  assert.equal(r.detachedAt, -1);
});

test("typing without the first key or ESC passes the same buffer through", () => {
  const rule = detachRule(parseDetachKeys("ctrl-p,ctrl-q"));
  const chunk = Buffer.from("plain typing");
  assert.equal(rule(chunk).send, chunk);
  const lone = detachRule(parseDetachKeys("ctrl-d"));
  assert.equal(lone(chunk).send, chunk);
});
