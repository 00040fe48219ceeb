// Node's compile cache for lap's modules and ws's. Node 22.1 and newer can
// keep the code V8 compiled for each module on disk and take it back on the
// next start, where it would otherwise parse and compile it all again: about
// 5 ms of the time to attach. lap.ts turns it on before loading anything
// else, so every module of lap's is covered.
//
// The cache holds code lap will run, so it lives where only its user can
// write: ~/.cache/lap, never Node's default under the shared temporary
// directory. A directory there that is a symbolic link, belongs to someone
// else or is writable by others is not used. Node checks each entry against
// the source it was made from, and drops entries made by another Node.
// NODE_COMPILE_CACHE=<dir> (Node's own) puts the cache elsewhere, and
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Without it lap works the same.

import fs from "node:fs";
import path from "node:path";
import nodeModule from "node:module";

type Env = Record<string, string | undefined>;

// What node:module offers from Node 22.1; older Nodes have neither.
interface CompileCacheApi {
  enableCompileCache?: (dir: string) => unknown;
  getCompileCacheDir?: () => string | undefined;
}

// cacheDir is where lap's cache goes: $XDG_CACHE_HOME/lap, or ~/.cache/lap.
// A relative XDG_CACHE_HOME is ignored, as the XDG spec asks.
export function cacheDir(env: Env): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, "lap");
  return env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, ".cache", "lap") : undefined;
}

// ownDir makes dir (0700) when it is missing and says whether it is uid's
// own: a real directory, not a link to one, owned by uid, writable by no
// one else.
export function ownDir(dir: string, uid: number): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

// enableCompileCache turns the cache on where Node has one; it never fails.
// uid is undefined where there are no Unix users (Windows): no cache then.
export function enableCompileCache(env: Env, uid: number | undefined): void {
  const api = nodeModule as CompileCacheApi;
  if (typeof api.enableCompileCache !== "function" || uid === undefined) return;
  // Already on (NODE_COMPILE_CACHE), or turned off: nothing of lap's to make.
  if (api.getCompileCacheDir?.() || env.NODE_DISABLE_COMPILE_CACHE) return;
  const dir = cacheDir(env);
  if (dir && ownDir(dir, uid)) api.enableCompileCache(dir);
}
