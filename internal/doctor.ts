// `lap doctor [agent | session]`: walks the path from this machine to a
// sandbox's terminal one step at a time — config, proxy, DNS, TCP, TLS,
// master key, agents, and given a target the WebSocket upgrade and whether an
// idle connection survives — and says which step fails and what to do.

import { lookup as dnsLookup } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";
import { HttpError, Unsupported, connectApi, hasTerminal, isUUID, sessionIdFrom, terminalTarget, waitReady, type Agent, type Api, type Diagnosis, type Session } from "./api.js";
import { findCredentials, type Found } from "./config.js";
import { cleanText, json, print, say, shellQuoted, visible } from "./output.js";
import { DEFAULT_PROFILE, mask, type ProxySettings } from "./settings.js";
import { describeProxy, proxyFor } from "./proxy.js";
import { EXIT_FAILURE, EXIT_OK, LapError, describe, exitForSignal, networkReason } from "./errors.js";
import { type IO } from "./io.js";
import { sessionOrAgentError } from "./sessions.js";
import { TIMINGS } from "./tty.js";
import type { Link } from "./ws.js";

// Load balancers commonly drop connections idle for 60 s: wait a little
// longer than that by default, so a pass means attach will survive it.
export const DEFAULT_IDLE_MS = 65_000;
// One DNS lookup, TCP connect or TLS handshake taking longer than this is a
// failure of that step, not slowness.
const STEP_TIMEOUT_MS = 10_000;
// Interrupted while creating a session, doctor waits this long for the
// platform's answer, to stop the session it names: long enough for a
// platform that answers in a second or two, short for someone leaving.
const CREATE_WAIT_MS = 5_000;

export interface DoctorOptions {
  // An agent (name or id) or a session (id or URL): also check its terminal.
  target?: string;
  // How long the WebSocket is left idle before checking it still answers.
  idleMs: number;
  // How long to wait for the session to be ready.
  timeoutMs: number;
  // For tests: name resolution, and the step and pong deadlines.
  lookup?: (host: string) => Promise<string[]>;
  stepTimeoutMs?: number;
  pongDeadlineMs?: number;
  // --json: the platform's whole diagnosis bundle on stdout; the steps go to stderr.
  json?: boolean;
  // For tests: how long an interrupted create's answer is waited for.
  createWaitMs?: number;
}

// The platform step shows this much of the pod's log: enough to see a crash.
const POD_LOG_LINES = 20;
// The platform's detected issues shown; the rest are counted. --json has all.
const MAX_ISSUES = 20;

type Mark = "✓" | "✗" | "·";

// Report prints one line per step, "✓ step — detail", "✗ step — what is
// wrong" plus a hint line, or "· step — note" for a step that does not apply.
class Report {
  failed = false;
  constructor(private readonly io: IO) {}

  ok(step: string, detail: string): void {
    this.line("✓", step, detail);
  }

  note(step: string, detail: string): void {
    this.line("·", step, detail);
  }

  fail(step: string, what: string, hint = ""): false {
    this.failed = true;
    this.line("✗", step, what, hint);
    return false;
  }

  // more writes lines that belong to the last step, indented under it.
  more(lines: string[]): void {
    if (lines.length > 0) this.emit(lines.map((l) => `  ${l}\n`).join(""));
  }

  // toStderr keeps stdout for --json.
  toStderr = false;

  private line(mark: Mark, step: string, detail: string, hint = ""): void {
    this.emit(`${mark} ${step} — ${detail}\n${hint ? `  ${hint}\n` : ""}`);
  }

  private emit(text: string): void {
    if (this.toStderr) this.io.stderr.write(cleanText(text));
    else print(this.io, text);
  }
}

// doctor runs every check it can and returns 1 when any failed, else 0.
// Steps that later ones depend on stop the walk when they fail.
export async function doctor(io: IO, opts: DoctorOptions): Promise<number> {
  const r = new Report(io);
  r.toStderr = !!opts.json;
  const found = checkConfig(io, r);
  if (found) await checkPath(io, opts, found, r);
  return r.failed ? EXIT_FAILURE : EXIT_OK;
}

async function checkPath(io: IO, opts: DoctorOptions, found: Found, r: Report): Promise<void> {
  const url = new URL(found.config.base);
  const proxy = checkProxy(url, io.settings.proxy, r);
  if (proxy === false) return;
  // Through a proxy, the proxy is the host this machine must reach.
  const hop = proxy ?? url;
  const port = Number(hop.port) || (hop.protocol === "https:" ? 443 : 80);
  const timeoutMs = opts.stepTimeoutMs ?? STEP_TIMEOUT_MS;
  const address = await checkDns(hostOf(hop), proxy ? "proxy " : "", opts.lookup ?? lookupAll, timeoutMs, r);
  if (address === null) return;
  if (!(await checkTcp(address, port, timeoutMs, r))) return;
  if (proxy) r.note("tls", "through the proxy: checked by the calls below");
  else if (url.protocol !== "https:") r.note("tls", "not used: the platform URL is http://");
  else if (!(await checkTls(hostOf(url), address, port, timeoutMs, r))) return;

  const api = connectApi(io, found.config);
  if (!(await checkKey(api, found, r))) return;
  if (!(await checkAgents(api, r))) return;
  if (opts.target === undefined) return;
  let target: Target;
  try {
    target = await findTarget(api, opts.target);
  } catch (err) {
    r.fail("target", describe(err), err instanceof LapError ? err.hint : "");
    return;
  }
  await checkPlatform(io, api, target, opts, r);
  await checkTerminal(io, api, target, opts, r);
}

function checkConfig(io: IO, r: Report): Found | null {
  let found: Found;
  try {
    found = findCredentials(io);
  } catch (err) {
    if (!(err instanceof LapError)) throw err;
    r.fail("config", err.message, err.hint || "run 'lap login'");
    return null;
  }
  const profile = found.profile === DEFAULT_PROFILE ? "" : `, profile ${found.profile}`;
  if (!found.fromFile) {
    r.ok("config", "LAP_BASE_URL and LAP_MASTER_KEY are set (no config file needed)");
  } else if (found.looseMode) {
    r.fail("config", `${found.file} is readable by other users${profile}`, `run: chmod 600 ${found.file}`);
  } else {
    const env = [found.baseFromEnv && "LAP_BASE_URL", found.keyFromEnv && "LAP_MASTER_KEY"].filter(Boolean);
    r.ok("config", `${found.file}${profile}, private${env.length ? `, with ${env.join(" and ")} from the environment` : ""}`);
  }
  return found;
}

// checkProxy reports the proxy lap uses for the platform (proxy.ts decides,
// as for every call): its URL, null for none, or false when the setting is
// unusable.
function checkProxy(url: URL, proxies: ProxySettings, r: Report): URL | null | false {
  const secure = url.protocol === "https:";
  const own = secure ? proxies.https : proxies.http;
  const other = secure ? proxies.http : proxies.https;
  const noProxy = proxies.noProxy ? { name: "NO_PROXY", value: proxies.noProxy } : undefined;
  if (!own) {
    const set = [other && `${other.name} (for ${secure ? "http" : "https"}:// only)`, noProxy && noProxy.name].filter(Boolean);
    r.ok("proxy", set.length ? `none for ${url.protocol}// (set: ${set.join(", ")})` : "none (HTTPS_PROXY, HTTP_PROXY and NO_PROXY are not set)");
    return null;
  }
  let proxy: URL | null;
  try {
    proxy = proxyFor(url, proxies);
  } catch (err) {
    return r.fail("proxy", describe(err), err instanceof LapError ? err.hint : "");
  }
  if (proxy === null) {
    r.ok("proxy", `${noProxy!.name}=${visible(noProxy!.value)} exempts ${url.host} from ${own.name}`);
    return null;
  }
  r.ok("proxy", `${own.name}=${describeProxy(proxy)} is used for ${url.host}${noProxy ? ` (${noProxy.name} does not exempt it)` : ""}`);
  return proxy;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}

async function lookupAll(host: string): Promise<string[]> {
  return (await dnsLookup(host, { all: true })).map((a) => a.address);
}

async function checkDns(host: string, what: string, lookup: (h: string) => Promise<string[]>, timeoutMs: number, r: Report): Promise<string | null> {
  if (net.isIP(host)) {
    r.ok("dns", `${what}${host} is an address (nothing to look up)`);
    return host;
  }
  try {
    const addresses = await withTimeout(lookup(host), timeoutMs);
    if (addresses.length === 0) throw Object.assign(new Error("no addresses"), { code: "ENOTFOUND" });
    r.ok("dns", `${what}${host} → ${addresses.slice(0, 3).join(", ")}${addresses.length > 3 ? ", …" : ""}`);
    return addresses[0];
  } catch (err) {
    r.fail("dns", `cannot resolve ${what}${host}: ${networkReason(err)}`, "check the host name ('lap config'), your VPN and your DNS settings");
    return null;
  }
}

function checkTcp(address: string, port: number, timeoutMs: number, r: Report): Promise<boolean> {
  const start = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (ok: boolean, detail: string, hint = "") => {
      socket.destroy();
      clearTimeout(timer);
      if (ok) r.ok("tcp", detail);
      else r.fail("tcp", detail, hint);
      resolve(ok);
    };
    const where = net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
    const timer = setTimeout(() => done(false, `${where}: no answer within ${seconds(timeoutMs)}`, "a firewall may be dropping the connection; are you on the right network or VPN?"), timeoutMs);
    socket.once("connect", () => done(true, `connected to ${where} in ${Date.now() - start} ms`));
    socket.once("error", (err) => done(false, `${where}: ${networkReason(err)}`, "is the platform up, and is the port right? a firewall or VPN may be in the way"));
  });
}

function checkTls(host: string, address: string, port: number, timeoutMs: number, r: Report): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: address, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ["http/1.1"] });
    const done = (ok: boolean, detail: string, hint = "") => {
      socket.destroy();
      clearTimeout(timer);
      if (ok) r.ok("tls", detail);
      else r.fail("tls", detail, hint);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false, `no handshake within ${seconds(timeoutMs)}`, "is this port really serving https?"), timeoutMs);
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const subject = cert.subject?.CN ? ` for ${visible(cert.subject.CN)}` : "";
      done(true, `${socket.getProtocol() ?? "TLS"}, certificate${subject} valid until ${cert.valid_to ?? "?"}`);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      const code = err.code ? `${visible(err.code)}: ` : "";
      done(false, `${host}:${port}: ${code}${visible(err.message)}`, tlsHint(err.code ?? ""));
    });
  });
}

function tlsHint(code: string): string {
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "the certificate is for another name: check the platform URL ('lap config')";
  if (code === "CERT_HAS_EXPIRED") return "the platform's certificate has expired: tell its operators";
  if (/SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY)/.test(code)) {
    return "signed by a private certificate authority? export NODE_EXTRA_CA_CERTS=/path/to/ca.pem";
  }
  return "is this port really serving https? a proxy that inspects TLS needs its CA in NODE_EXTRA_CA_CERTS";
}

async function checkKey(api: Api, found: Found, r: Report): Promise<boolean> {
  try {
    await api.call("GET", "/api/v1/managed_agents/agents?limit=1");
  } catch (err) {
    if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
      const again = found.keyFromEnv ? "LAP_MASTER_KEY is not this platform's master key"
        : `run 'lap login${found.profile === DEFAULT_PROFILE ? "" : ` --profile ${found.profile}`}' again with the platform's master key`;
      return r.fail("key", `${mask(found.config.key)} refused: ${err.status}`, again);
    }
    if (err instanceof HttpError && err.status === 404) {
      return r.fail("api", err.message, "this address answers, but not as an agent platform: check the URL ('lap config')");
    }
    return r.fail("api", describe(err), err instanceof LapError ? err.hint : "");
  }
  r.ok("key", `${mask(found.config.key)} accepted by ${found.config.base}`);
  return true;
}

async function checkAgents(api: Api, r: Report): Promise<boolean> {
  try {
    const agents = await api.listAgents();
    const tty = agents.filter(hasTerminal).length;
    r.ok("agents", `${agents.length} agent${agents.length === 1 ? "" : "s"}, ${tty} with a terminal`);
    return true;
  } catch (err) {
    return r.fail("agents", describe(err), err instanceof LapError ? err.hint : "");
  }
}

interface Target {
  agent: Agent | null;
  session: Session | null;
}

// findTarget reads the argument as a session (a URL, or a UUID that is a
// session), else as an agent, else as the start of a session id.
async function findTarget(api: Api, target: string): Promise<Target> {
  if (target.includes("/sessions/") || isUUID(target)) {
    try {
      return { agent: null, session: await api.getSession(sessionIdFrom(target)) };
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404 && isUUID(target))) throw err;
    }
  }
  let agent: Agent;
  try {
    agent = await api.resolveAgent(target);
  } catch (err) {
    if (!(err instanceof LapError) || !/^no agent named/.test(err.message)) throw err;
    return { agent: null, session: await sessionOrAgentError(api, target, err) };
  }
  if (agent.harness_id === "") {
    // A bare UUID: the listing says what it is, if it is there at all.
    const listed = (await api.listAgents()).find((a) => a.id === agent.id);
    if (!listed) throw new LapError(`no agent or session with id ${agent.id}`, "see 'lap agents' and 'lap sessions'");
    return { agent: listed, session: null };
  }
  return { agent, session: null };
}

// checkPlatform asks the platform what it knows of the session (an agent's
// newest): detected issues and the end of the pod's log. A platform without
// the route is noted and skipped, not failed.
async function checkPlatform(io: IO, api: Api, target: Target, opts: DoctorOptions, r: Report): Promise<void> {
  let session = target.session;
  let bundle: Diagnosis;
  try {
    if (!session && target.agent) {
      const agentId = target.agent.id;
      const sessions = (await api.listSessions(agentId, 1)).filter((s) => s.agent_id === agentId);
      session = sessions.sort((a, b) => (Date.parse(b.created_at ?? "") || 0) - (Date.parse(a.created_at ?? "") || 0))[0] ?? null;
    }
    if (!session) {
      const none = `agent ${visible(target.agent?.name ?? target.agent?.id ?? "?")} has no session to diagnose yet`;
      // --json promised a diagnosis on stdout: a script must not read
      // nothing and status 0 as one.
      if (opts.json) r.fail("platform", none, "start one (lap <agent>), then run doctor again");
      else r.note("platform", none);
      return;
    }
    bundle = await api.diagnose(session.id);
  } catch (err) {
    if (err instanceof Unsupported && !opts.json) r.note("platform", `skipped: ${err.message}`);
    else r.fail("platform", describe(err), err instanceof LapError ? err.hint : "");
    return;
  }
  if (opts.json) io.stdout.write(json(bundle));
  const issues = Array.isArray(bundle.detected_issues) ? bundle.detected_issues.filter(isRecord) : [];
  const high = issues.filter((i) => i.severity === "high").length;
  const status = isRecord(bundle.session) && bundle.session.status !== undefined ? `, ${visible(bundle.session.status, 20)}` : "";
  const summary = `session ${session.id}${status}: ${issues.length === 0 ? "no issues detected" : `${issues.length} issue${issues.length === 1 ? "" : "s"} detected`}`;
  if (high > 0) r.fail("platform", summary);
  else r.ok("platform", summary);
  r.more(issues.slice(0, MAX_ISSUES).flatMap(issueLines));
  if (issues.length > MAX_ISSUES) r.more([`… and ${issues.length - MAX_ISSUES} more (all of them: lap doctor ${shellQuoted(session.id)} --json)`]);
  r.more(podLogLines(bundle.pod_logs_tail));
}

function issueLines(i: Record<string, unknown>): string[] {
  const action = i.recommended_action === undefined || i.recommended_action === null ? [] : [`  → ${visible(i.recommended_action, 300)}`];
  return [`[${visible(i.severity ?? "?", 10)}] ${visible(i.code ?? "?", 60)}: ${visible(i.message ?? "", 300)}`, ...action];
}

// podLogLines is the end of the pod's log, or why there is none.
function podLogLines(tail: unknown): string[] {
  if (!isRecord(tail)) return [];
  if (tail.available !== true || typeof tail.text !== "string") {
    return [`pod log: not available${tail.error !== undefined ? ` (${visible(tail.error, 200)})` : ""}`];
  }
  const lines = tail.text.replace(/\n$/, "").split("\n").slice(-POD_LOG_LINES);
  return [`pod log (last ${lines.length} lines):`, ...lines.map((l) => `  ${visible(l, 300)}`)];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function checkTerminal(io: IO, api: Api, target: Target, opts: DoctorOptions, r: Report): Promise<void> {
  const { agent } = target;
  if (!agent) return checkSession(io, api, target.session!, opts, r);
  if (!hasTerminal(agent)) {
    r.note("websocket", `agent ${visible(agent.name ?? agent.id)} has no terminal (harness ${visible(agent.harness_id)}): nothing to upgrade`);
    return;
  }
  // A session doctor started is stopped also when the user interrupts the
  // check, even while it is being created: the signal ends the wait, and
  // lap exits as the signal would.
  let off: () => void = () => {};
  const interrupted = new Promise<string>((resolve) => (off = io.terminal().onSignal(resolve)));
  const untilSignal = <T>(p: Promise<T>) => Promise.race([p.then((value) => ({ value })), interrupted.then((signal) => ({ signal }))]);
  try {
    let session: Session;
    try {
      const live = await untilSignal(api.liveSession(agent.id));
      if ("signal" in live) throw interruptedBy(live.signal);
      if (live.value) {
        off();
        return await checkSession(io, api, live.value, opts, r);
      }
      const creating = api.createSession(agent.id, "lap doctor");
      const made = await untilSignal(creating);
      if ("signal" in made) {
        const known = await stopWhenCreated(io, api, creating, opts.createWaitMs ?? CREATE_WAIT_MS, r);
        throw interruptedBy(made.signal, known ? "" : `a session may have been started for this check: see 'lap sessions ${shellQuoted(agent.name ?? agent.id)}', and stop it with 'lap stop <id> --yes'`);
      }
      session = made.value;
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      r.fail("session", describe(err), err instanceof LapError ? err.hint : "");
      return;
    }
    r.note("session", `${visible(agent.name ?? agent.id)} had no live session: started ${session.id} for this check (stopped at the end)`);
    const checked = checkSession(io, api, session, opts, r).then(() => null);
    // Once interrupted, what the check still does is no one's business.
    checked.catch(() => {});
    let signal: string | null;
    try {
      signal = await Promise.race([checked, interrupted]);
    } finally {
      off();
      await stopStarted(api, session, r);
    }
    if (signal) throw interruptedBy(signal);
  } finally {
    off();
  }
}

// Interrupted is the error a signal during the check ends it with.
class Interrupted extends LapError {}

function interruptedBy(signal: string, hint = ""): Interrupted {
  return new Interrupted(`${signal}: the check was interrupted`, hint, exitForSignal(signal));
}

// stopWhenCreated waits, at most waitMs, for the answer to a create the
// user interrupted, and stops the session it names. False when the answer
// did not come in time, so whether a session was started is not known.
async function stopWhenCreated(io: IO, api: Api, creating: Promise<Session>, waitMs: number, r: Report): Promise<boolean> {
  say(io, `· interrupted while a session was being started for the check: waiting up to ${seconds(waitMs)} to stop it`);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
  const session = await Promise.race([creating.catch(() => null), late]).finally(() => clearTimeout(timer));
  if (session === undefined) {
    say(io, `! no answer from the platform after ${seconds(waitMs)}`);
    return false;
  }
  if (session === null) say(io, "· the platform started no session");
  else await stopStarted(api, session, r);
  return true;
}

async function checkSession(io: IO, api: Api, first: Session, opts: DoctorOptions, r: Report): Promise<void> {
  const start = Date.now();
  let session: Session;
  try {
    session = await waitReady(api, first, { timeoutMs: opts.timeoutMs, onPhase: (p) => say(io, `· ${visible(p, 80)}`) });
  } catch (err) {
    r.fail("session", describe(err), err instanceof LapError ? err.hint : "");
    return;
  }
  const waited = Date.now() - start >= 1000 ? ` (waited ${seconds(Date.now() - start)})` : "";
  r.ok("session", `${session.id} is ready${waited}`);
  if (session.supports_tui === false) {
    r.note("websocket", "this session's harness has no terminal: nothing to upgrade");
    return;
  }
  let target: ReturnType<typeof terminalTarget>;
  try {
    target = terminalTarget(session, api.base, io.settings);
  } catch (err) {
    r.fail("websocket", describe(err), err instanceof LapError ? err.hint : "");
    return;
  }
  const { url, ...dialOpts } = target;
  const shown = url.split("?")[0];
  const dialStart = Date.now();
  let link: Link;
  try {
    link = await io.dial(url, dialOpts);
  } catch (err) {
    const hint = err instanceof LapError && err.hint ? err.hint : "is the sandbox's address reachable from here? LAP_TTY_FALLBACK names another";
    r.fail("websocket", describe(err), hint);
    return;
  }
  r.ok("websocket", `upgraded ${visible(shown)} in ${Date.now() - dialStart} ms`);
  const size = io.terminal().size();
  // Attach at this terminal's size, so another client's window is not resized.
  if (size) link.sendControl({ type: "resize", cols: size.cols, rows: size.rows });
  await checkIdle(io, link, opts, r);
}

type Idle = { how: "pong"; ms: number } | { how: "silent" } | { how: "closed"; code: number; reason: string; error?: string; afterMs: number };

const IDLE_HINT = "a proxy or load balancer between here and the sandbox drops idle connections; lap pings every " +
  `${TIMINGS.pingMs / 1000}s to stay inside common limits, but if sessions still drop, raise its idle timeout`;

// checkIdle leaves the link without traffic for idleMs, then pings it: a
// connection dropped silently on the way does not answer.
async function checkIdle(io: IO, link: Link, opts: DoctorOptions, r: Report): Promise<void> {
  say(io, `· leaving the connection idle for ${seconds(opts.idleMs)}…`);
  const start = Date.now();
  const pongDeadline = opts.pongDeadlineMs ?? TIMINGS.pongDeadlineMs;
  const result = await new Promise<Idle>((resolve) => {
    let pingedAt = 0;
    let deadline: NodeJS.Timeout | undefined;
    const idle = setTimeout(() => {
      pingedAt = Date.now();
      link.ping();
      deadline = setTimeout(() => resolve({ how: "silent" }), pongDeadline);
    }, opts.idleMs);
    const finish = (v: Idle) => {
      clearTimeout(idle);
      clearTimeout(deadline);
      resolve(v);
    };
    link.listen({
      message: () => {},
      pong: () => {
        if (pingedAt) finish({ how: "pong", ms: Date.now() - pingedAt });
      },
      close: (code, reason, error) => finish({ how: "closed", code, reason, error, afterMs: Date.now() - start }),
    });
  });
  const idleFor = seconds(opts.idleMs);
  if (result.how === "pong") {
    link.close(1000, "lap doctor");
    r.ok("idle", `still open after ${idleFor} idle (ping answered in ${result.ms} ms)`);
  } else if (result.how === "silent") {
    link.terminate();
    r.fail("idle", `no answer to a ping after ${idleFor} idle: the connection was dropped on the way`, IDLE_HINT);
  } else {
    const why = [result.reason && visible(result.reason, 80), result.error].filter(Boolean).join(", ");
    r.fail("idle", `closed after ${seconds(result.afterMs)} idle (${result.code}${why ? `: ${why}` : ""})`, IDLE_HINT);
  }
}

async function stopStarted(api: Api, session: Session, r: Report): Promise<void> {
  try {
    await api.stopSession(session.id);
    r.note("session", `stopped ${session.id}, started for this check`);
  } catch (err) {
    r.fail("session", `could not stop ${session.id}, started for this check: ${describe(err)}`, `stop it with: lap stop ${shellQuoted(session.id)} --yes`);
  }
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 100) / 10}s`;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("timed out"), { name: "TimeoutError" })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
