// Shell completion: `lap completion bash|zsh|fish` prints a script that
// completes commands, flags, and (by calling `lap __complete ...` quietly at
// completion time) agent names, session ids and profile names.

import { DEFAULT_PROFILE, configPath, profileNames } from "./config.js";
import { connectApi } from "./auth.js";
import { usageError } from "./errors.js";
import type { IO } from "./io.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

export interface Flag {
  name: string; // with the dashes: --timeout
  value: boolean; // takes a value
}

// What the scripts complete. lap.ts derives the flags from its help texts, so
// a flag documented there is a flag completed here.
export interface CompletionSpec {
  // Each command and its flags.
  commands: Record<string, Flag[]>;
  // Flags of `lap <agent>`.
  open: Flag[];
  // Flags every command takes.
  global: Flag[];
}

// What each command's positional argument is, for the scripts.
const AGENT_ARG = ["sessions", "doctor"];
const SESSION_ARG = ["stop", "attach"];

// flagsFromHelp reads the --flags a help text mentions; "--timeout <D>" or
// "--timeout D" marks one that takes a value.
export function flagsFromHelp(text: string): Flag[] {
  const flags = new Map<string, boolean>();
  for (const m of text.matchAll(/--([a-z][a-z-]*)(?:[ =](<[^>]+>|[A-Z][A-Z_]*\b))?/g)) {
    const name = `--${m[1]}`;
    flags.set(name, (flags.get(name) ?? false) || m[2] !== undefined);
  }
  return [...flags].map(([name, value]) => ({ name, value }));
}

export function completionScript(shell: string, spec: CompletionSpec): string {
  if (shell === "bash") return bashScript(spec);
  if (shell === "zsh") return zshScript(spec);
  if (shell === "fish") return fishScript(spec);
  throw usageError(shell ? `no completion for '${shell}'` : "completion needs a shell", "usage: lap completion bash|zsh|fish");
}

// completeWords prints, one a line, the words a script asked for. It is run
// at completion time, so it stays quiet and quick: no prompts, no warnings.
export async function completeWords(io: IO, what: string): Promise<void> {
  let words: string[] = [];
  if (what === "profiles") {
    words = profileNames(configPath(io.env, io.home));
    if (!words.includes(DEFAULT_PROFILE)) words.unshift(DEFAULT_PROFILE);
  } else if (what === "agents") {
    words = (await connectApi(io).listAgents()).map((a) => a.name).filter((n): n is string => !!n && /^\S+$/.test(n));
  } else if (what === "sessions") {
    words = (await connectApi(io).listSessions()).filter((s) => !["dead", "stopped", "deleted"].includes(s.status)).map((s) => s.id);
  } else {
    throw usageError(`nothing to complete for '${what}'`, "usage: lap __complete agents|sessions|profiles");
  }
  io.stdout.write(words.map((w) => w + "\n").join(""));
}

function names(flags: Flag[]): string {
  return [...new Set(flags.map((f) => f.name))].join(" ");
}

function valueFlags(spec: CompletionSpec): string[] {
  const all = [...Object.values(spec.commands).flat(), ...spec.open, ...spec.global];
  return [...new Set(all.filter((f) => f.value).map((f) => f.name))];
}

function bashScript(spec: CompletionSpec): string {
  const commands = Object.keys(spec.commands);
  // --profile has a case of its own: its value is passed on to lap.
  const withValue = valueFlags(spec).filter((f) => f !== "--profile").join("|") || "--";
  const flagCases = commands
    .map((c) => `      ${c}) flags="${names([...spec.commands[c], ...spec.global])}" ;;`)
    .join("\n");
  return `# lap completion for bash. Load it with:  source <(lap completion bash)
_lap_complete() {
  local cur prev cmd w i flags
  local -a profile=()
  cur=\${COMP_WORDS[COMP_CWORD]}
  prev=\${COMP_WORDS[COMP_CWORD-1]}
  cmd=
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case $w in
      --profile) profile=(--profile "\${COMP_WORDS[i+1]}"); ((i++)) ;;
      ${withValue}) ((i++)) ;;
      -*) ;;
      *) [[ -z $cmd ]] && cmd=$w ;;
    esac
  done
  case $prev in
    --profile) COMPREPLY=($(compgen -W "$(lap __complete profiles 2>/dev/null)" -- "$cur")); return ;;
    --agent) COMPREPLY=($(compgen -W "$(lap "\${profile[@]}" __complete agents 2>/dev/null)" -- "$cur")); return ;;
    ${withValue}) COMPREPLY=(); return ;;
  esac
  if [[ $cur == -* ]]; then
    case $cmd in
${flagCases}
      *) flags="${names([...spec.open, ...spec.global])}" ;;
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case $cmd in
    "") COMPREPLY=($(compgen -W "${commands.join(" ")} $(lap "\${profile[@]}" __complete agents 2>/dev/null)" -- "$cur")) ;;
    ${AGENT_ARG.join("|")}) COMPREPLY=($(compgen -W "$(lap "\${profile[@]}" __complete agents 2>/dev/null)" -- "$cur")) ;;
    ${SESSION_ARG.join("|")}) COMPREPLY=($(compgen -W "$(lap "\${profile[@]}" __complete sessions 2>/dev/null)" -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
    help) COMPREPLY=($(compgen -W "${commands.join(" ")}" -- "$cur")) ;;
    *) COMPREPLY=() ;;
  esac
}
complete -F _lap_complete lap
`;
}

// zsh runs the bash function through its bash completion layer, which calls
// it with bash's (zero-based) arrays: one script to keep right, not two.
function zshScript(spec: CompletionSpec): string {
  return `# lap completion for zsh. Load it with:  source <(lap completion zsh)
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }
autoload -U +X bashcompinit && bashcompinit
${bashScript(spec).split("\n").slice(1).join("\n")}`;
}

function fishScript(spec: CompletionSpec): string {
  const commands = Object.keys(spec.commands);
  const skip = valueFlags(spec).join(" ");
  const flag = (f: Flag, condition: string) =>
    `complete -c lap${condition ? ` -n '${condition}'` : ""} -l ${f.name.slice(2)}${f.value ? " -r" : ""}`;
  const globalNames = new Set(spec.global.map((f) => f.name));
  const lines = [
    "# lap completion for fish. Load it with:  lap completion fish | source",
    "function __lap_cmd",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l skip 0",
    "    for w in $words",
    "        if test $skip = 1",
    "            set skip 0",
    "            continue",
    "        end",
    "        switch $w",
    `            case ${skip || "--"}`,
    "                set skip 1",
    "            case '-*'",
    "            case '*'",
    "                echo $w",
    "                return",
    "        end",
    "    end",
    "end",
    "function __lap_using",
    "    set -l cmd (__lap_cmd)",
    '    test -n "$cmd"; and contains -- $cmd $argv',
    "end",
    "function __lap_opening",
    "    set -l cmd (__lap_cmd)",
    `    test -n "$cmd"; and not contains -- $cmd ${commands.join(" ")}`,
    "end",
    "complete -c lap -f",
    `complete -c lap -n 'test -z (__lap_cmd)' -a '${commands.join(" ")}'`,
    "complete -c lap -n 'test -z (__lap_cmd)' -a '(lap __complete agents 2>/dev/null)'",
    `complete -c lap -n '__lap_using ${AGENT_ARG.join(" ")}' -a '(lap __complete agents 2>/dev/null)'`,
    `complete -c lap -n '__lap_using ${SESSION_ARG.join(" ")}' -a '(lap __complete sessions 2>/dev/null)'`,
    "complete -c lap -n '__lap_using completion' -a 'bash zsh fish'",
    `complete -c lap -n '__lap_using help' -a '${commands.join(" ")}'`,
    "complete -c lap -l profile -r -a '(lap __complete profiles 2>/dev/null)'",
    ...spec.global.filter((f) => f.name !== "--profile").map((f) => flag(f, "")),
    ...commands.flatMap((c) => spec.commands[c].filter((f) => !globalNames.has(f.name)).map((f) => flag(f, `__lap_using ${c}`))),
    ...spec.open.filter((f) => !globalNames.has(f.name)).map((f) =>
      f.name === "--agent" ? `${flag(f, "test -z (__lap_cmd)")} -a '(lap __complete agents 2>/dev/null)'` : flag(f, "__lap_opening; or test -z (__lap_cmd)")),
  ];
  return lines.join("\n") + "\n";
}
