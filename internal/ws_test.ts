import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { CLOSE_HANDSHAKE_MS, dial, MAX_PAYLOAD, type Link } from "./ws.js";

// A hostile harness on a real socket, speaking HTTP and WebSocket by hand so
// it can do what no well-behaved server library would.
async function rawServer(onSocket: (socket: net.Socket, key: string) => void, allowHalfOpen = false) {
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    socket.on("error", () => {});
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      onSocket(socket, /sec-websocket-key: (.*)\r\n/i.exec(head)?.[1] ?? "");
    };
    socket.on("data", onData);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => sockets.add(s));
  return {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/tty`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function accept(socket: net.Socket, key: string): void {
  const digest = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${digest}\r\n\r\n`);
}

function closed(link: Link): Promise<{ code: number; error?: string; broken?: string }> {
  return new Promise((resolve) => link.listen({ message: () => {}, pong: () => {}, close: (code, _r, error, broken) => resolve({ code, error, broken }) }));
}

test("an upgrade whose headers trickle in one line at a time is bounded as a whole", async () => {
  const timers: NodeJS.Timeout[] = [];
  const s = await rawServer((socket) => {
    socket.write("HTTP/1.1 101 Switching Protocols\r\n");
    timers.push(setInterval(() => socket.write("X-Slow: 1\r\n"), 20));
  });
  await assert.rejects(dial(s.url, { timeoutMs: 300 }), /terminal upgrade took longer than 300ms/);
  for (const t of timers) clearInterval(t);
  s.close();
});

test("a refusal whose body stalls is told, with as much of it as came, within the deadline", async () => {
  const s = await rawServer((socket) => {
    socket.write("HTTP/1.1 403 Forbidden\r\ncontent-length: 100000\r\n\r\nno such token");
  });
  await assert.rejects(dial(s.url, { timeoutMs: 300 }), /terminal upgrade refused: 403 — no such token/);
  s.close();
});

// Node refreshes a socket's idle timer on every read, even a cleared one, so
// an idle timeout set while connecting would cost every frame of a session.
test("reading the terminal's output refreshes no timer", async () => {
  // Frames a few milliseconds apart, so that each takes a read of its own.
  const frames = 50;
  const s = await rawServer((socket, key) => {
    accept(socket, key);
    socket.setNoDelay(true);
    let sent = 0;
    const timer = setInterval(() => {
      socket.write(Buffer.from([0x82, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]));
      if (++sent < frames) return;
      clearInterval(timer);
      socket.end();
    }, 2);
  });
  const link = await dial(s.url);
  const timeout = Object.getPrototypeOf(setTimeout(() => {}, 0)) as { refresh(): unknown };
  const refresh = timeout.refresh;
  let refreshed = 0;
  timeout.refresh = function (this: unknown) {
    refreshed++;
    return refresh.call(this);
  };
  let received = 0;
  try {
    await new Promise<void>((resolve) => link.listen({ message: () => void received++, pong: () => {}, close: () => resolve() }));
  } finally {
    timeout.refresh = refresh;
  }
  assert.equal(received, frames);
  assert.ok(refreshed < 5, `${refreshed} timer refreshes for ${frames} frames`);
  s.close();
});

test("a frame over the payload limit ends the link, naming the limit", async () => {
  const s = await rawServer((socket, key) => {
    accept(socket, key);
    // A binary frame header announcing MAX_PAYLOAD + 1 bytes: the length
    // alone is enough for the client to refuse it.
    const header = Buffer.alloc(10);
    header[0] = 0x82;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(MAX_PAYLOAD + 1), 2);
    socket.write(header);
  });
  const link = await dial(s.url);
  const end = await closed(link);
  assert.match(end.broken ?? "", /frame over 4 MiB/);
  s.close();
});

test("a frame with an invalid opcode ends the link as a protocol break", async () => {
  const s = await rawServer((socket, key) => {
    accept(socket, key);
    socket.write(Buffer.from([0x85, 0x00]));
  });
  const end = await closed(await dial(s.url));
  assert.match(end.broken ?? "", /broke the WebSocket protocol \(.*opcode.*\)/);
  s.close();
});

test("a connection that merely drops is not a protocol break", async () => {
  const s = await rawServer((socket, key) => {
    accept(socket, key);
    setTimeout(() => socket.destroy(), 10);
  });
  const end = await closed(await dial(s.url));
  assert.equal(end.code, 1006);
  assert.equal(end.broken, undefined);
  s.close();
});

test("a harness that sends its close frame but keeps the connection open is dropped soon after", async (t) => {
  const s = await rawServer((socket, key) => {
    accept(socket, key);
    // Close 1001 ("going away"), then nothing: its side stays open after
    // the client's close frame and the client's end of the connection.
    socket.write(Buffer.from([0x88, 0x02, 0x03, 0xe9]));
    socket.on("data", () => {});
  }, true);
  t.after(s.close);
  const bound = CLOSE_HANDSHAKE_MS + 3_000;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), bound)));
  const end = await Promise.race([closed(await dial(s.url)), late]).finally(() => clearTimeout(timer));
  assert.notEqual(end, "late", `the close was not heard within ${bound} ms`);
  assert.equal((end as { code: number }).code, 1001);
});
