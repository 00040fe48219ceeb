// One error type for everything the user is meant to read. lap.ts prints it
// as "✗ message" plus an optional hint line and exits with its code.

import { visible } from "./output.js";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
// The link to the sandbox died and could not be brought back: scripts can
// tell this apart from a detach or the remote program ending (both 0).
export const EXIT_LINK_LOST = 3;
// Ctrl-C: the status a shell reports for SIGINT.
export const EXIT_INTERRUPTED = 130;

// exitForSignal is the exit status for a signal, as shells report it: 128
// and the signal's number on this system. node:os is loaded only here, when
// a signal came: start-up does not pay for it.
export function exitForSignal(signal: string): number {
  const os = require("node:os") as typeof import("node:os");
  return 128 + ((os.constants.signals as Record<string, number>)[signal] ?? 1);
}

export class LapError extends Error {
  readonly hint: string;
  readonly code: number;

  constructor(message: string, hint = "", code = EXIT_FAILURE) {
    super(message);
    this.name = "LapError";
    this.hint = hint;
    this.code = code;
  }
}

export function usageError(message: string, hint = "run 'lap --help' for usage"): LapError {
  return new LapError(message, hint, EXIT_USAGE);
}

// describe turns anything thrown into one line, without a stack trace.
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? `: ${cause.message}` : "";
    return visible(err.message + causeText);
  }
  return visible(String(err));
}

// networkReason words a fetch failure the way a user can act on it.
export function networkReason(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") return "no answer (timed out)";
  // fetch puts the system error in cause; ws and net put it on the error.
  const code = e.cause?.code ?? e.code ?? "";
  const known: Record<string, string> = {
    ENOTFOUND: "host not found (DNS)",
    EAI_AGAIN: "host not found (DNS temporarily failing)",
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    UND_ERR_SOCKET: "connection closed by the server",
    UND_ERR_HEADERS_TIMEOUT: "no answer (timed out)",
    UND_ERR_BODY_TIMEOUT: "no answer (timed out)",
  };
  if (known[code]) return known[code];
  // OpenSSL's codes: DEPTH_ZERO_SELF_SIGNED_CERT, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...
  if (/CERT|SSL|TLS|SELF_SIGNED|VERIFY/i.test(code)) return `TLS error (${code})`;
  return visible(e.cause?.message ?? e.message ?? String(err));
}

// networkHint says what to try for a failure networkReason worded.
export function networkHint(reason: string, otherwise: string): string {
  if (reason.startsWith("TLS error")) return "the certificate is not trusted: for a private CA, export NODE_EXTRA_CA_CERTS=/path/to/ca.pem";
  if (reason.startsWith("via proxy")) return "check HTTPS_PROXY / HTTP_PROXY, or list the platform's host in NO_PROXY";
  return otherwise;
}
