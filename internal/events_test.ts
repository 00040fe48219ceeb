import { test } from "node:test";
import assert from "node:assert/strict";
import { EventReader, readEvents } from "./events.js";

const STREAM = Buffer.from(
  'data: {"type":"ready"}\n\n' +
    ': a comment from a proxy\n' +
    'data: {"type":"harness_event","event":{"type":"message.part.delta","properties":{"delta":"é😀 ```"}}}\r\n\r\n' +
    "data: not json\n\n" +
    'event: ignored\ndata: {"type":"done"}\n\n',
);
const EVENTS = [
  { type: "ready" },
  { type: "harness_event", event: { type: "message.part.delta", properties: { delta: "é😀 ```" } } },
  { type: "done" },
];

test("events are the same whole, one byte at a time and cut inside characters", () => {
  for (const size of [STREAM.length, 1, 2, 3, 5, 7]) {
    const reader = new EventReader();
    const got: unknown[] = [];
    for (let i = 0; i < STREAM.length; i += size) got.push(...reader.push(STREAM.subarray(i, i + size)));
    assert.deepEqual(got, EVENTS, `chunks of ${size} bytes`);
  }
});

test("data spread over several lines is joined with newlines", () => {
  const reader = new EventReader();
  assert.deepEqual(reader.push(Buffer.from('data: {"a":\ndata: 1}\n\n')), [{ a: 1 }]);
});

test("an event over the limit fails instead of filling memory", () => {
  const reader = new EventReader(16);
  assert.throws(() => reader.push(Buffer.from("data: " + "x".repeat(40))), /an event of the stream is over 16 bytes/);
});

test("readEvents yields the events of a stream until it ends, without the unfinished last one", async () => {
  async function* body() {
    yield STREAM.subarray(0, 30);
    yield STREAM.subarray(30);
    yield Buffer.from('data: {"type":"cut"');
  }
  const got: unknown[] = [];
  for await (const e of readEvents(body())) got.push(e);
  assert.deepEqual(got, EVENTS);
});
