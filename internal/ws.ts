// The one module that imports `ws`. It opens the terminal WebSocket and
// hands back a small Link: bytes in, bytes out, close, flow control. A
// refused upgrade is read (status and the start of the body) so the user is
// told why.

import fs from "node:fs";
import path from "node:path";
import type WebSocket from "ws";
import type { ClientOptions } from "ws";
import type { ClientRequest, IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { asFlag, visible } from "./output.js";
import { LapError, networkHint, networkReason } from "./errors.js";

// The client class, required by its file. ws's index also loads its server
// and its stream wrapper, which lap never uses, and its "exports" let only
// the index be required by name; resolving a package through "exports"
// costs Node 20 ~4 ms the first time as well. Together ~8 ms of every
// attach here. So the file is looked for where require would look for the
// package (the node_modules folders above this module); failing that, ws is
// required by name.
function webSocketClass(): typeof WebSocket {
  return withoutAddons(() => {
    for (const dir of module.paths) {
      const file = path.join(dir, "ws", "lib", "websocket.js");
      if (fs.existsSync(file)) return require(file) as typeof WebSocket;
    }
    return require("ws") as typeof WebSocket;
  });
}

// ws looks for two optional native add-ons, bufferutil and utf-8-validate,
// wherever require finds packages: every node_modules folder above lap's
// own, npm's global folder (PREFIX/lib/node_modules) among them, and
// ~/.node_modules. lap runs only the code it ships, so ws is told not to
// look, by the two switches it reads as it loads; they are set only while
// it loads, and the environment is left as the user gave it.
const ADDON_SWITCHES = ["WS_NO_BUFFER_UTIL", "WS_NO_UTF_8_VALIDATE"] as const;

function withoutAddons<T>(load: () => T): T {
  const saved = ADDON_SWITCHES.map((name) => process.env[name]);
  for (const name of ADDON_SWITCHES) process.env[name] = "1";
  try {
    return load();
  } finally {
    ADDON_SWITCHES.forEach((name, i) => {
      if (saved[i] === undefined) delete process.env[name];
      else process.env[name] = saved[i];
    });
  }
}

const WebSocketClient = webSocketClass();

// An upgrade that takes longer than this, as a whole, is a dead path, not a
// slow one; headers trickling in one line at a time do not extend it.
const HANDSHAKE_TIMEOUT_MS = 20_000;
// The largest frame taken from the harness. A terminal's output comes in
// frames of kilobytes; ws's default (100 MiB) let a hostile harness push lap
// to hundreds of megabytes. A bigger frame ends the link (close 1009).
export const MAX_PAYLOAD = 4 << 20;
// After the close frames have crossed, how long the harness has to close
// the connection before lap drops it. ws's own 30 s let a harness that
// said goodbye but kept TCP open hold a reconnect (and the keys typed
// meanwhile) for half a minute; the close code has already come by then.
export const CLOSE_HANDSHAKE_MS = 2_000;
// Enough of a refused upgrade's body to say why, never a whole page.
const REFUSAL_BODY_BYTES = 2_048;

export interface Link {
  // Keystrokes: always binary, so a paste starting with "{" is not taken
  // for a control message by the harness.
  sendBytes(data: Buffer, done?: (err?: Error) => void): void;
  // Control messages (resize): text frames holding JSON.
  sendControl(message: object): void;
  close(code: number, reason?: string): void;
  // Stop and restart reading from the socket; TCP then pushes back on the server.
  pause(): void;
  resume(): void;
  ping(): void;
  // Drop the connection at once, without a close handshake (a dead peer).
  terminate(): void;
  // Bytes queued for sending but not yet written to the socket.
  readonly bufferedAmount: number;
  // False from the moment the link starts closing (a close frame came or
  // was sent, the connection broke), before close is heard: bytes sent
  // then are dropped by ws.
  readonly isOpen: boolean;
  // Sets who hears what arrives. Until the first call, arrivals are held:
  // a harness sends its screen the moment the socket opens.
  listen(handlers: LinkHandlers): void;
}

export interface LinkHandlers {
  message(data: Buffer): void;
  pong(): void;
  // Called once. code is 1005 when the peer closed without a status,
  // 1006 when the connection broke; error says why when there was one.
  // broken is set when the peer broke the WebSocket protocol (a bad opcode
  // or close code, reserved bits, a frame over MAX_PAYLOAD): a sentence for
  // the user, and a reason not to reconnect.
  close(code: number, reason: string, error?: string, broken?: string): void;
}

export interface DialOptions {
  token?: string;
  timeoutMs?: number;
  // Also put the token in the URL as ?token= (LAP_TTY_TOKEN_IN_QUERY), for
  // load balancers that strip Authorization from upgrades. The header is
  // still sent.
  tokenInQuery?: boolean;
  // Makes the connection's socket, e.g. through a proxy tunnel (proxy.ts);
  // may answer later through done.
  createConnection?: (options: object, done: (err: Error | null, socket?: Duplex) => void) => Duplex | undefined;
}

// UpgradeRefused is a LapError for an upgrade answered with an HTTP status.
export class UpgradeRefused extends LapError {
  readonly status: number;
  constructor(status: number, body: string, host: string) {
    const why = body ? ` — ${body}` : "";
    const hint = status === 401 || status === 403
      ? "the harness refused the tty token: tty_token missing, or the harness token misconfigured (LAP_TTY_TOKEN overrides it)"
      : status === 404 ? "the session's terminal is not there: the sandbox may have been reaped; try 'lap <agent> --new'" : "";
    super(`${host}: terminal upgrade refused: ${status}${why}`, hint);
    this.status = status;
  }
}

// dial opens the WebSocket. The token goes in the Authorization header, and
// in the URL only with tokenInQuery, so by default it stays out of access
// logs. Error messages name the host, never the URL.
export function dial(url: string, opts: DialOptions = {}): Promise<Link> {
  const target = new URL(url);
  const host = target.host;
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.token && opts.tokenInQuery) target.searchParams.set("token", opts.token);
  const timeoutMs = opts.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // closeTimeout is newer than ws's published types.
    const options: ClientOptions & { closeTimeout: number } = {
      headers,
      ...(opts.createConnection ? { createConnection: opts.createConnection as unknown as ClientOptions["createConnection"] } : {}),
      maxPayload: MAX_PAYLOAD,
      perMessageDeflate: false,
      // Terminal output is bytes: a character split across two text frames
      // must pass through, not close the socket as invalid UTF-8.
      skipUTF8Validation: true,
      followRedirects: false,
      closeTimeout: CLOSE_HANDSHAKE_MS,
    };
    const ws = new WebSocketClient(target, options);
    let opened = false;
    // One deadline bounds the whole upgrade, a refusal's body included.
    // ws's handshakeTimeout is not used: it is an idle timeout, restarted by
    // every byte, and it leaves a cleared timer on the socket that Node
    // refreshes on every read for as long as the terminal stays open.
    let refusal: IncomingMessage | undefined;
    const deadline = setTimeout(() => {
      // A refusal whose body stalls is told with as much as came.
      if (refusal) return void refusal.destroy();
      reject(new LapError(`${host}: terminal upgrade took longer than ${asFlag(timeoutMs)}`, "the harness or a proxy on the way is not answering; try again"));
      ws.terminate();
    }, timeoutMs);
    ws.on("unexpected-response", (req: ClientRequest, res: IncomingMessage) => {
      refusal = res;
      readSome(res, REFUSAL_BODY_BYTES).then((body) => {
        clearTimeout(deadline);
        req.destroy();
        reject(new UpgradeRefused(res.statusCode ?? 0, visible(body.trim(), 200), host));
      });
    });
    ws.on("error", (err) => {
      clearTimeout(deadline);
      const reason = networkReason(err);
      if (!opened) reject(new LapError(`${host}: terminal connection failed: ${reason}`, networkHint(reason, "")));
    });
    ws.on("open", () => {
      clearTimeout(deadline);
      opened = true;
      resolve(wrap(ws));
    });
  });
}

function wrap(ws: WebSocket): Link {
  let lastError: string | undefined;
  let broken: string | undefined;
  let handlers: LinkHandlers | null = null;
  let held: ((h: LinkHandlers) => void)[] = [];
  const deliver = (event: (h: LinkHandlers) => void) => (handlers ? event(handlers) : held.push(event));
  // Until listen, messages are held; then each goes to the handler directly.
  let onMessage = (data: Buffer): void => void held.push((h) => h.message(data));
  ws.on("message", onMessage);
  ws.on("pong", () => deliver((h) => h.pong()));
  ws.on("error", (err: NodeJS.ErrnoException) => {
    lastError = networkReason(err);
    broken ??= protocolBreak(err);
  });
  ws.on("close", (code: number, reason: Buffer) => deliver((h) => h.close(code, reason.toString("utf8"), lastError, broken)));
  return {
    sendBytes: (data, done) => ws.send(data, { binary: true }, done),
    sendControl: (message) => ws.send(JSON.stringify(message), { binary: false }),
    close: (code, reason) => ws.close(code, reason),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    ping: () => ws.ping(),
    terminate: () => ws.terminate(),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get isOpen() {
      return ws.readyState === WebSocketClient.OPEN;
    },
    listen: (h) => {
      handlers = h;
      const events = held;
      held = [];
      for (const e of events) e(h);
      ws.off("message", onMessage);
      onMessage = (data) => h.message(data);
      ws.on("message", onMessage);
    },
  };
}

function readSome(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks).subarray(0, limit).toString("utf8"));
    res.on("data", (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= limit) {
        res.destroy();
        done();
      }
    });
    res.on("end", done);
    res.on("error", done);
    res.on("close", done);
  });
}

// protocolBreak names what the peer did wrong when err is ws's report of a
// frame breaking the protocol (its codes start WS_ERR_), else undefined.
function protocolBreak(err: NodeJS.ErrnoException): string | undefined {
  if (!err.code?.startsWith("WS_ERR_")) return undefined;
  if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") return `the harness sent a frame over ${MAX_PAYLOAD >> 20} MiB, more than any terminal output needs`;
  return `the harness broke the WebSocket protocol (${visible(err.message, 80)})`;
}
