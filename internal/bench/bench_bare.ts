// The floor `make bench` measures lap against: the least a WebSocket terminal
// client can do. ws directly, with the socket options lap uses; stdin out as
// binary frames; every message straight to stdout, the socket paused while
// stdout is full; no terminal handling, no reconnecting.
// Usage: node bench_bare.js <ws-url> [token]. Not installed.

import WebSocket from "ws";

const [url, token] = process.argv.slice(2);
const ws = new WebSocket(url!, {
  headers: token ? { authorization: `Bearer ${token}` } : {},
  perMessageDeflate: false,
  skipUTF8Validation: true,
});
ws.on("open", () => {
  process.stdin.on("data", (keys: Buffer) => ws.send(keys, { binary: true }));
  process.stdin.on("end", () => ws.close(1000)); // as in lap, stdin ending detaches
});
ws.on("message", (data: Buffer) => {
  if (process.stdout.write(data) || ws.isPaused) return;
  ws.pause();
  process.stdout.once("drain", () => ws.resume());
});
ws.on("error", (err) => {
  process.stderr.write(`bare: ${err.message}\n`);
  process.exit(1);
});
// The same marker lap prints, once every byte has been handed to stdout.
ws.on("close", (code: number) => {
  const bye = () => process.stderr.write(`[ws closed] ${code}\n`, () => process.exit(0));
  if (process.stdout.writableLength === 0) bye();
  else process.stdout.once("drain", bye);
});
