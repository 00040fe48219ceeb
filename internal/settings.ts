// Every environment variable lap reads, read and checked once, into one
// typed object that commands receive (io.settings). The table below is also
// what `lap --help` lists and what `lap config` reports, so a variable added
// here is documented and shown everywhere at once. XDG_CACHE_HOME alone is
// read before this module loads, by compilecache.ts.

import path from "node:path";
import { visible } from "./output.js";
import { EXIT_USAGE, LapError, usageError } from "./errors.js";

export type Env = Record<string, string | undefined>;

// The proxy variables as resolved: lowercase before uppercase, as curl
// reads them. name is the variable the value came from, for messages.
export interface ProxySettings {
  https?: { name: string; value: string };
  http?: { name: string; value: string };
  noProxy: string;
}

export interface Settings {
  // The config file: LAP_CONFIG, or ~/.lap/config.json.
  configFile: string;
  // LAP_PROFILE (or --profile), checked; "default" when unset.
  profile: string;
  baseUrl?: string;
  masterKey?: string;
  ttyToken?: string;
  ttyFallback?: string;
  ttyTokenInQuery: boolean;
  reconnectTimeoutMs?: number;
  keepaliveMs?: number;
  httpTimeoutMs?: number;
  recordFrames?: string;
  debug: boolean;
  // Whether colour is allowed at all (NO_COLOR unset, TERM not dumb).
  colour: boolean;
  term?: string;
  proxy: ProxySettings;
}

// How a variable is shown by `lap config`: as it is, masked (a secret), or
// with credentials taken out of a URL.
type Show = "plain" | "secret" | "url";

export interface Variable {
  name: string;
  help: string;
  show: Show;
  // Not reported by `lap config` (not a lap setting of its own).
  foreign?: true;
}

export const VARIABLES: Variable[] = [
  { name: "LAP_CONFIG", help: "config file (default ~/.lap/config.json)", show: "plain" },
  { name: "LAP_PROFILE", help: "the profile to use, like --profile", show: "plain" },
  { name: "LAP_BASE_URL", help: "the platform, with LAP_MASTER_KEY: no config file needed (CI)", show: "url" },
  { name: "LAP_MASTER_KEY", help: "the platform's master key, with LAP_BASE_URL", show: "secret" },
  { name: "LAP_TTY_TOKEN", help: "bearer token for the terminal WebSocket (default: the session's tty_token)", show: "secret" },
  { name: "LAP_TTY_FALLBACK", help: "WebSocket URL to use when the sandbox is only reachable in-cluster", show: "url" },
  { name: "LAP_TTY_TOKEN_IN_QUERY", help: "=1: also send the tty token as ?token= (load balancers that strip headers)", show: "plain" },
  { name: "LAP_RECONNECT_TIMEOUT", help: "how long to retry a lost link (default 2m)", show: "plain" },
  { name: "LAP_KEEPALIVE", help: "how often to ping an idle terminal connection (default 20s)", show: "plain" },
  { name: "LAP_HTTP_TIMEOUT", help: "how long one API call may take (default 30s)", show: "plain" },
  { name: "LAP_RECORD_FRAMES", help: "write each terminal WebSocket to this file as a frame recording", show: "plain" },
  { name: "LAP_DEBUG", help: "=1: show stack traces of internal errors", show: "plain" },
  { name: "HTTPS_PROXY, HTTP_PROXY, NO_PROXY", help: "(or lowercase) a proxy: CONNECT for https and the terminal, absolute form for http", show: "url", foreign: true },
  { name: "NODE_EXTRA_CA_CERTS", help: "a file of extra CA certificates, for a platform with a private CA", show: "plain", foreign: true },
  { name: "NO_COLOR", help: "never colour the output (it is coloured only on a terminal)", show: "plain", foreign: true },
  { name: "XDG_CACHE_HOME", help: "where Node 22+ keeps lap's compiled code, in lap/ (default ~/.cache)", show: "plain", foreign: true },
  { name: "NODE_DISABLE_COMPILE_CACHE", help: "=1: no compiled code kept (Node's own switch)", show: "plain", foreign: true },
];

// Durations beyond a day are mistakes, and beyond about 24.8 days Node's
// timers overflow and fire at once; below a millisecond they mean nothing.
export const MIN_DURATION_MS = 1;
export const MAX_DURATION_MS = 24 * 3_600_000;

// parseDuration reads "90", "90s", "10m", "1h" or "250ms" (a bare number is
// seconds); what names the flag or variable in the error, code its exit status.
export function parseDuration(text: string, what: string, code = EXIT_USAGE): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m?.[2] ?? "s") as "ms" | "s" | "m" | "h"];
  const ms = m ? Math.round(Number(m[1]) * unit) : NaN;
  if (!(ms >= 0)) throw new LapError(`${what} '${visible(text)}' is not a duration`, "use seconds or a unit: 90s, 10m, 1h", code);
  if (ms < MIN_DURATION_MS || ms > MAX_DURATION_MS) {
    throw new LapError(`${what} '${visible(text)}' is out of range`, "give a duration from 1ms to 24h", code);
  }
  return ms;
}

// Profile names are keys in the config file and words on the command line:
// short, plain, and never "__proto__".
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const DEFAULT_PROFILE = "default";

export function isProfileName(name: string): boolean {
  return PROFILE_NAME.test(name);
}

export function checkProfileName(name: string, code = EXIT_USAGE): string {
  if (!isProfileName(name)) {
    throw new LapError(`'${visible(name)}' is not a profile name`, "use letters, digits, '.', '_' or '-', e.g. --profile staging", code);
  }
  return name;
}

const YES = /^(1|true|yes|on)$/i;
const NO = /^(0|false|no|off|)$/i;

function flag(env: Env, name: string): boolean {
  const v = env[name]?.trim() ?? "";
  if (YES.test(v)) return true;
  if (NO.test(v)) return false;
  throw usageError(`${name} '${visible(v)}' is not 1 or 0`, `e.g. export ${name}=1`);
}

// A key or token goes into an Authorization header as a bearer token, which
// is visible ASCII: anything else Node would refuse only once lap is on its
// way, with an error that names no setting.
export function isToken(s: string): boolean {
  return /^[\x21-\x7e]+$/.test(s);
}

function token(env: Env, name: string): string | undefined {
  const v = text(env, name);
  if (v !== undefined && !isToken(v)) throw usageError(`${name} holds characters a header cannot carry`, `check how ${name} is set: a key is printable ASCII, without spaces`);
  return v;
}

function text(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  if (!v) return undefined;
  // A value with a newline or NUL is never what was meant, and could split
  // a header line.
  if (/[\u0000-\u001f\u007f]/.test(v)) throw usageError(`${name} holds control characters`, `check how ${name} is set`);
  return v;
}

function wsUrl(env: Env, name: string): string | undefined {
  const v = text(env, name);
  if (v === undefined) return undefined;
  let url: URL | null = null;
  try {
    url = new URL(v);
  } catch {
    // said below
  }
  if (!url || !["ws:", "wss:", "http:", "https:"].includes(url.protocol)) {
    throw usageError(`${name} is not a WebSocket URL: ${visible(hideSecrets(v))}`, `e.g. export ${name}=ws://host:port/tty`);
  }
  return v;
}

function proxyVar(env: Env, lower: string, upper: string): { name: string; value: string } | undefined {
  for (const name of [lower, upper]) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

// readSettings reads every variable; a bad value is a usage error naming it,
// said before anything is sent anywhere.
export function readSettings(env: Env, home: string): Settings {
  const durationOf = (name: string) => {
    const v = text(env, name);
    return v === undefined ? undefined : parseDuration(v, name);
  };
  const profile = text(env, "LAP_PROFILE");
  const config = text(env, "LAP_CONFIG");
  return {
    configFile: config ? path.resolve(config) : path.join(home, ".lap", "config.json"),
    profile: profile ? checkProfileName(profile) : DEFAULT_PROFILE,
    baseUrl: text(env, "LAP_BASE_URL"),
    masterKey: token(env, "LAP_MASTER_KEY"),
    ttyToken: token(env, "LAP_TTY_TOKEN"),
    ttyFallback: wsUrl(env, "LAP_TTY_FALLBACK"),
    ttyTokenInQuery: flag(env, "LAP_TTY_TOKEN_IN_QUERY"),
    reconnectTimeoutMs: durationOf("LAP_RECONNECT_TIMEOUT"),
    keepaliveMs: durationOf("LAP_KEEPALIVE"),
    httpTimeoutMs: durationOf("LAP_HTTP_TIMEOUT"),
    recordFrames: text(env, "LAP_RECORD_FRAMES"),
    debug: !!env.LAP_DEBUG && env.LAP_DEBUG !== "0",
    colour: !(env.NO_COLOR !== undefined && env.NO_COLOR !== "") && env.TERM !== "dumb",
    term: env.TERM,
    proxy: {
      https: proxyVar(env, "https_proxy", "HTTPS_PROXY"),
      http: proxyVar(env, "http_proxy", "HTTP_PROXY"),
      noProxy: env.no_proxy || env.NO_PROXY || "",
    },
  };
}

// proxied says whether any proxy is set, so the proxy code is loaded only then.
export function proxied(s: Settings): boolean {
  return !!(s.proxy.https || s.proxy.http);
}

// overrides lists the lap variables that are set, as `lap config` shows
// them: secrets masked, credentials and tokens taken out of URLs.
export function overrides(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of VARIABLES) {
    const value = env[v.name];
    if (v.foreign || !value) continue;
    out[v.name] = v.show === "secret" ? mask(value) : visible(v.show === "url" ? hideSecrets(value) : value);
  }
  return out;
}

// A key shorter than this shows nothing at all: four characters of a short
// key are too much of it.
const MASK_MIN_LENGTH = 16;

// mask shows enough of a key to recognise it, never enough to use it: at
// most its last four characters.
export function mask(key: string): string {
  if (key.length < MASK_MIN_LENGTH) return "****";
  return `…${key.slice(-4)}`;
}

// hideSecrets takes the user and password out of a URL and masks the values
// of its query string (a token= there is a secret).
export function hideSecrets(raw: string): string {
  return raw
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, "$1…@")
    .replace(/([?&][^=&#]*=)[^&#]*/g, "$1…");
}
