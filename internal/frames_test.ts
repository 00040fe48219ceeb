import { test } from "node:test";
import assert from "node:assert/strict";
import { closeLine, FORMAT_VERSION, frameLine, headerLine, parseRecording } from "./frames.js";

const header = '{"lap_frames":1,"cols":80,"rows":24,"note":"n"}';
const close = '{"t":9,"from":"server","type":"close","code":1000,"reason":""}';
const text = (extra = "") => `{"t":1,"from":"server","type":"text","data":"hi"${extra}}`;
const cases: [string, string, string][] = [
  ["an empty file", "", "bad.jsonl:1: empty: the first line must be the header"],
  ["a frame where the header belongs", `${text()}\n${close}\n`, 'bad.jsonl:1: the first line must be the header {"lap_frames":1,...}'],
  ["another format version", '{"lap_frames":2,"cols":80,"rows":24,"note":""}\n' + close, "bad.jsonl:1: unknown format version lap_frames=2 (this reads 1)"],
  ["a header without a note", '{"lap_frames":1,"cols":80,"rows":24}\n' + close, 'bad.jsonl:1: the header lacks "note"'],
  ["a header with an extra field", '{"lap_frames":1,"cols":80,"rows":24,"note":"","token":"x"}\n' + close, 'bad.jsonl:1: the header has an unknown field "token"'],
  ["a size given as a string", '{"lap_frames":1,"cols":"80","rows":24,"note":""}\n' + close, 'bad.jsonl:1: "cols" must be an integer from 0 to 9999, got "80"'],
  ["half a size", '{"lap_frames":1,"cols":0,"rows":24,"note":""}\n' + close, "bad.jsonl:1: cols and rows are both 0 (no size) or neither"],
  ["a note that is not text", '{"lap_frames":1,"cols":80,"rows":24,"note":7}\n' + close, 'bad.jsonl:1: "note" must be a string, got 7'],
  ["a line that is not JSON", `${header}\n${text()}\n{oops\n${close}\n`, "bad.jsonl:3: not JSON: "],
  ["a blank line", `${header}\n\n${close}\n`, "bad.jsonl:2: not JSON: "],
  ["a line that is an array", `${header}\n[1]\n${close}\n`, "bad.jsonl:2: not a JSON object"],
  ["an unknown frame type", `${header}\n{"t":1,"from":"server","type":"ping"}\n${close}\n`, 'bad.jsonl:2: "type" must be "text", "binary" or "close", got "ping"'],
  ["an unknown sender", `${header}\n{"t":1,"from":"proxy","type":"text","data":""}\n${close}\n`, 'bad.jsonl:2: "from" must be "client" or "server", got "proxy"'],
  ["a text frame without data", `${header}\n{"t":1,"from":"server","type":"text"}\n${close}\n`, 'bad.jsonl:2: a text line lacks "data"'],
  ["a text frame that also has b64", `${header}\n${text(',"b64":"aGk="')}\n${close}\n`, 'bad.jsonl:2: a text line has an unknown field "b64"'],
  ["text with a lone surrogate", `${header}\n{"t":1,"from":"server","type":"text","data":"\\ud800"}\n${close}\n`, 'bad.jsonl:2: "data" must be a string of well-formed text'],
  ["broken base64", `${header}\n{"t":1,"from":"client","type":"binary","b64":"a$b="}\n${close}\n`, 'bad.jsonl:2: "b64" must be standard padded base64'],
  ["a negative time", `${header}\n{"t":-1,"from":"server","type":"text","data":""}\n${close}\n`, 'bad.jsonl:2: "t" must be a number of ms >= 0, got -1'],
  ["time going back", `${header}\n{"t":5,"from":"server","type":"text","data":""}\n{"t":4,"from":"server","type":"text","data":""}\n${close}\n`, "bad.jsonl:3: t goes back in time: 4 after 5"],
  ["a close code out of range", `${header}\n{"t":1,"from":"server","type":"close","code":999,"reason":""}\n`, 'bad.jsonl:2: "code" must be a close code from 1000 to 4999, got 999'],
  ["a close reason too long for a close frame", `${header}\n{"t":1,"from":"server","type":"close","code":1000,"reason":"${"x".repeat(124)}"}\n`, 'bad.jsonl:2: "reason" must be a string of at most 123 bytes'],
  ["a frame after the close", `${header}\n${close}\n${text()}\n`, "bad.jsonl:3: nothing may follow the close on line 2"],
  ["no close", `${header}\n${text()}\n`, "bad.jsonl:2: no close: a recording ends with a close line"],
];
for (const [what, content, message] of cases) {
  test(`rejects ${what}, naming the file and line`, () => {
    assert.throws(() => parseRecording(content, "bad.jsonl"), (err: Error) => {
      assert.equal(err.name, "FormatError");
      assert.ok(err.message.startsWith(message), `got: ${err.message}`);
      return true;
    });
  });
}

test("rejects bytes that are not UTF-8, naming the line", () => {
  const bytes = Buffer.concat([Buffer.from(header + "\n"), Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), Buffer.from(close + "\n")]);
  assert.throws(() => parseRecording(bytes, "bad.jsonl"), { message: "bad.jsonl:2: not UTF-8" });
});

test("reads frames, times and the close, with binary payloads decoded", () => {
  const rec = parseRecording(`${header}\n{"t":0.5,"from":"client","type":"binary","b64":"/wA="}\n${text()}\n${close}`, "ok.jsonl");
  assert.deepEqual(rec.header, { cols: 80, rows: 24, note: "n" });
  assert.deepEqual(rec.events.map((e) => [e.line, e.t, e.from, e.type]), [[2, 0.5, "client", "binary"], [3, 1, "server", "text"], [4, 9, "server", "close"]]);
  assert.deepEqual(rec.events[0]!.type !== "close" && [...rec.events[0]!.bytes], [0xff, 0]);
});

test("what the writers write, the reader reads back exactly", () => {
  const bytes = Buffer.from([0xff, 0x00, 0x1b]);
  const text = [
    headerLine({ cols: 100, rows: 30 }, "round trip"),
    frameLine(0.5, "client", JSON.stringify({ type: "resize", cols: 100, rows: 30 }), false),
    frameLine(1, "client", bytes, true),
    frameLine(2.25, "server", "héllo \x1b[0m", false),
    closeLine(3, "client", 1000, "detach"),
  ].join("\n") + "\n";
  const rec = parseRecording(text, "rt.jsonl");
  assert.deepEqual(rec.header, { cols: 100, rows: 30, note: "round trip" });
  assert.deepEqual(rec.events.map((e) => (e.type === "close" ? [e.t, e.from, e.code, e.reason] : [e.t, e.from, e.type, e.bytes.toString("latin1")])), [
    [0.5, "client", "text", '{"type":"resize","cols":100,"rows":30}'],
    [1, "client", "binary", bytes.toString("latin1")],
    [2.25, "server", "text", Buffer.from("héllo \x1b[0m").toString("latin1")],
    [3, "client", 1000, "detach"],
  ]);
  assert.equal(JSON.parse(text.split("\n")[0]!).lap_frames, FORMAT_VERSION);
  assert.deepEqual(parseRecording(headerLine(null, "") + "\n" + closeLine(0, "server", 1005, ""), "none.jsonl").header, { cols: 0, rows: 0, note: "" });
});
