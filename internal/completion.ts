// Shell completion: `lap completion bash|zsh|fish` prints a script that
// completes commands, flags, and (by calling `lap __complete ...` quietly at
// completion time) agent names, session ids and profile names.
//
// Names and ids come from the server, so the scripts never let a shell
// expand them: candidates are read line by line and matched as plain
// prefixes (as cobra's scripts do), never passed through compgen -W or eval;
// and `lap __complete` prints only words that are safe as shell words.

import type { Api } from "./api.js";
import { credentials, profileNames } from "./config.js";
import { usageError } from "./errors.js";
import { isShellWord } from "./output.js";
import type { IO } from "./io.js";
import { DEFAULT_PROFILE } from "./settings.js";

// What a command's positional argument is. The words of the first three
// come from the platform, through `lap __complete <kind>` at completion time.
const FROM_PLATFORM = ["agents", "sessions", "restartable"] as const;
type FromPlatform = (typeof FROM_PLATFORM)[number];
export type Completes = FromPlatform | "shells" | "commands" | "";

// The flags whose value comes from the platform, and what it is.
const FLAG_VALUES: Record<string, FromPlatform> = { "--agent": "agents", "--resume": "sessions" };

// Tab waits for the platform this long at most: a slow one completes
// nothing rather than freezing the shell.
const COMPLETE_WITHIN_MS = 3_000;

// Which sessions each kind offers: those an attach or a stop can use, and
// those a restart can bring back.
const OFFERED: Record<Exclude<FromPlatform, "agents">, (status: string) => boolean> = {
  sessions: (status) => !["dead", "stopped", "deleted"].includes(status),
  restartable: (status) => ["dead", "failed", "ready"].includes(status),
};

export interface Flag {
  name: string; // with the dashes: --timeout
  value: boolean; // takes a value
  file?: boolean; // the value is a file name
}

// What the scripts complete; cli.ts builds it from the command table.
export interface CompletionSpec {
  // Each command and its own flags.
  commands: Record<string, Flag[]>;
  // Flags given where a command would be: those of `lap <agent>`, and --resume.
  open: Flag[];
  // Flags every command takes.
  global: Flag[];
  // What each command's positional argument is.
  args: Record<string, Completes>;
  shells: string[];
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
    words = profileNames(io.settings.configFile);
    if (!words.includes(DEFAULT_PROFILE)) words.unshift(DEFAULT_PROFILE);
  } else if (what === "agents") {
    words = await fromPlatform(io, async (api) => (await api.listAgents()).map((a) => a.name ?? ""));
  } else if (what === "sessions" || what === "restartable") {
    const offered = OFFERED[what];
    words = await fromPlatform(io, async (api) => (await api.listSessions()).filter((s) => offered(s.status)).map((s) => s.id));
  } else {
    throw usageError(`nothing to complete for '${what}'`, `usage: lap __complete ${[...FROM_PLATFORM, "profiles"].join("|")}`);
  }
  io.stdout.write(words.filter(isShellWord).map((w) => w + "\n").join(""));
}

// fromPlatform asks the platform for words, giving up quietly (no words)
// after COMPLETE_WITHIN_MS. The API client is loaded only once credentials
// are found: a user not logged in gets the one line that says so, quickly.
async function fromPlatform(io: IO, ask: (api: Api) => Promise<string[]>): Promise<string[]> {
  const config = credentials(io);
  const api = (await import("./api.js")).connectApi(io, config);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string[]>((resolve) => (timer = setTimeout(() => resolve([]), COMPLETE_WITHIN_MS)));
  const asked = ask(api);
  // Failing after the give-up is no one's business.
  asked.catch(() => {});
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}

function names(flags: Flag[]): string[] {
  return [...new Set(flags.map((f) => f.name))];
}

function valueFlags(spec: CompletionSpec): string[] {
  const all = [...Object.values(spec.commands).flat(), ...spec.open, ...spec.global];
  return [...new Set(all.filter((f) => f.value).map((f) => f.name))];
}

function fileFlags(spec: CompletionSpec): string[] {
  const all = [...Object.values(spec.commands).flat(), ...spec.open, ...spec.global];
  return [...new Set(all.filter((f) => f.file).map((f) => f.name))];
}

function commandsOf(spec: CompletionSpec, kind: string): string[] {
  return Object.keys(spec.args).filter((c) => spec.args[c] === kind);
}

// words writes static candidates, one a line, for _lap_add to read; they are
// lap's own words (commands, flags, shells), all plain.
function words(list: string[]): string {
  return `printf '%s\\n' ${list.join(" ")}`;
}

function bashScript(spec: CompletionSpec): string {
  const commands = Object.keys(spec.commands);
  const values = valueFlags(spec);
  // --profile has a case of its own: its value is passed on to lap.
  const withValue = values.filter((f) => f !== "--profile").join("|") || "--";
  const files = fileFlags(spec);
  // The flags whose value nothing completes.
  const noValues = values.filter((f) => f !== "--profile" && !FLAG_VALUES[f] && !files.includes(f)).join("|") || "--";
  const flagCases = commands
    .map((c) => `      ${c}) _lap_add "$cur" < <(${words(names([...spec.commands[c], ...spec.global]))}) ;;`)
    .join("\n");
  const flagValueCases = Object.entries(FLAG_VALUES)
    .map(([flag, kind]) => `    ${flag}) _lap_add "$cur" "$pre" < <(lap "\${profile[@]}" __complete ${kind} 2>/dev/null); return 0 ;;`)
    .join("\n");
  const platformCases = FROM_PLATFORM
    .map((kind) => `    ${commandsOf(spec, kind).join("|") || "--"}) _lap_add "$cur" < <(lap "\${profile[@]}" __complete ${kind} 2>/dev/null) ;;`)
    .join("\n");
  const fileCase = files.length
    ? `    # File names: in bash, readline's own (-o default), which quotes them;
    # zsh has no compopt, and quotes what its compgen -f finds itself.
    ${files.join("|")}) compopt -o default 2>/dev/null || _lap_add "$cur" "$pre" < <(compgen -f -- "$cur"); return 0 ;;\n`
    : "";
  return `# lap completion for bash. Load it with:  source <(lap completion bash)
# _lap_add reads candidates line by line and keeps those that start with $1,
# the word (or the value in it) typed so far; $2 is what the word holds
# before that value (--profile=). Nothing read is expanded by the shell.
# Both functions return 0 and read no unset word: in a shell with set -e or
# set -u, Tab must neither end the shell nor write an error over the prompt.
_lap_add() {
  local line typed=\${2-}$1
  # bash replaces only what follows the word's last COMP_WORDBREAKS
  # character (: and = by default): that is what each candidate is cut to.
  while [[ -n $typed && \${COMP_WORDBREAKS-} != *"\${typed: -1}"* ]]; do typed=\${typed%?}; done
  while IFS= read -r line; do
    if [[ -n $line && $line == "$1"* ]]; then line=\${2-}$line; COMPREPLY+=("\${line#"$typed"}"); fi
  done
  return 0
}
_lap_complete() {
  local cur prev pre= cmd w i n rest=\${COMP_LINE-}
  local -a word=() profile=()
  COMPREPLY=()
  # bash splits words at COMP_WORDBREAKS (: and = among them); zsh does
  # not. word holds them whole again, as on the line: a piece with no blank
  # before it there belongs to the word before.
  for ((i = 0; i <= COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]-}
    if ((i > 0)) && [[ $rest != [[:space:]]* ]]; then
      word[\${#word[@]}-1]+=$w
    else
      word+=("$w")
    fi
    rest=\${rest#"\${rest%%[![:space:]]*}"} # past the blanks
    rest=\${rest#"$w"} # and past the piece
  done
  n=$((\${#word[@]} - 1))
  cur=\${word[n]}
  prev=\${word[n-1]-}
  # --flag=value, one word: complete the value, as after --flag.
  case $cur in
    ${values.map((f) => `${f}=*`).join("|") || "--=*"}) prev=\${cur%%=*}; pre=$prev=; cur=\${cur#*=} ;;
  esac
  cmd=
  for ((i = 1; i < n; i++)); do
    w=\${word[i]}
    case $w in
      --profile=*) profile=(--profile "\${w#--profile=}") ;;
      --profile) profile=(--profile "\${word[i+1]-}"); ((i++)) ;;
      ${withValue}) ((i++)) ;;
      -*) ;;
      *) [[ -z $cmd ]] && cmd=$w ;;
    esac
  done
  case $prev in
    --profile) _lap_add "$cur" "$pre" < <(lap __complete profiles 2>/dev/null); return 0 ;;
${flagValueCases}
${fileCase}    ${noValues}) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    case $cmd in
${flagCases}
      *) _lap_add "$cur" < <(${words(names([...spec.open, ...spec.global]))}) ;;
    esac
    return 0
  fi
  case $cmd in
    "") _lap_add "$cur" < <(${words(commands)}; lap "\${profile[@]}" __complete agents 2>/dev/null) ;;
${platformCases}
    completion) _lap_add "$cur" < <(${words(spec.shells)}) ;;
    help) _lap_add "$cur" < <(${words(commands)}) ;;
  esac
  return 0
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

// fish splits a command substitution's output into lines and never expands
// them again, so candidates from lap are taken as they are.
function fishScript(spec: CompletionSpec): string {
  const commands = Object.keys(spec.commands);
  const skip = valueFlags(spec).join(" ");
  // -r alone would offer file names for any value: -F for a file's, -f for the rest.
  const flag = (f: Flag, condition: string) =>
    `complete -c lap${condition ? ` -n '${condition}'` : ""} -l ${f.name.slice(2)}${f.value ? (f.file ? " -r -F" : " -r -f") : ""}`;
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
    // --profile as typed, passed on to lap (which checks the name).
    "function __lap_profile",
    "    set -l words (commandline -opc)",
    "    set -l n (count $words)",
    "    for i in (seq $n)",
    "        switch $words[$i]",
    "            case --profile",
    "                test $i -lt $n; and printf '%s\\n' --profile $words[(math $i + 1)]",
    "                return",
    "            case '--profile=*'",
    "                printf '%s\\n' --profile (string replace -- --profile= '' $words[$i])",
    "                return",
    "        end",
    "    end",
    "end",
    "function __lap_opening",
    "    set -l cmd (__lap_cmd)",
    `    test -n "$cmd"; and not contains -- $cmd ${commands.join(" ")}`,
    "end",
    "complete -c lap -f",
    `complete -c lap -n 'test -z (__lap_cmd)' -a '${commands.join(" ")}'`,
    "complete -c lap -n 'test -z (__lap_cmd)' -a '(lap (__lap_profile) __complete agents 2>/dev/null)'",
    ...FROM_PLATFORM.map((kind) => `complete -c lap -n '__lap_using ${commandsOf(spec, kind).join(" ")}' -a '(lap (__lap_profile) __complete ${kind} 2>/dev/null)'`),
    `complete -c lap -n '__lap_using completion' -a '${spec.shells.join(" ")}'`,
    `complete -c lap -n '__lap_using help' -a '${commands.join(" ")}'`,
    // -f: file names are no profile names, agent names or session ids.
    "complete -c lap -l profile -r -f -a '(lap __complete profiles 2>/dev/null)'",
    ...spec.global.filter((f) => f.name !== "--profile").map((f) => flag(f, "")),
    ...commands.flatMap((c) => spec.commands[c].filter((f) => !globalNames.has(f.name)).map((f) => flag(f, `__lap_using ${c}`))),
    ...spec.open.filter((f) => !globalNames.has(f.name)).map((f) =>
      FLAG_VALUES[f.name]
        ? `${flag(f, "test -z (__lap_cmd)")} -a '(lap (__lap_profile) __complete ${FLAG_VALUES[f.name]} 2>/dev/null)'`
        : flag(f, "__lap_opening; or test -z (__lap_cmd)")),
  ];
  return lines.join("\n") + "\n";
}
