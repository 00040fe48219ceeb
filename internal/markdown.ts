// How an agent's answer is shown. Piped, it is the text exactly as written.
// On a terminal its control characters are shown, never obeyed, and with
// colour allowed its markdown is rendered: headings, emphasis, inline code,
// fenced code set apart, lists, quotes, links with their URL, rules. Text
// arrives in pieces (deltas) cut anywhere, so rendering works line by line:
// a line is drawn once it is whole, with what earlier lines opened (a code
// fence) remembered.

import { cleanText } from "./output.js";

// raw: piped output, the bytes as written. safe: a terminal without colour,
// control characters escaped. rendered: a colour terminal, markdown drawn.
export type TextMode = "raw" | "safe" | "rendered";

// colour is whether colour is allowed at all (NO_COLOR unset, TERM not dumb).
export function textMode(isTTY: boolean, colour: boolean): TextMode {
  if (!isTTY) return "raw";
  return colour ? "rendered" : "safe";
}

const BOLD = "\x1b[1m";
const NO_BOLD = "\x1b[22m";
const DIM = "\x1b[2m";
const ITALIC = "\x1b[3m";
const NO_ITALIC = "\x1b[23m";
const UNDERLINE = "\x1b[4m";
const NO_UNDERLINE = "\x1b[24m";
const STRIKE = "\x1b[9m";
const NO_STRIKE = "\x1b[29m";
const CODE = "\x1b[36m";
const NO_CODE = "\x1b[39m";
// Wide enough to read as a break, narrow enough for any terminal.
const RULE = "─".repeat(40);
// Code lines are shifted right by this, to set them apart from prose.
const CODE_INDENT = "  ";
// A line not whole after this many characters is drawn without markup.
const LONG_LINE = 4096;

export function dim(text: string): string {
  return DIM + text + NO_BOLD;
}

// terminalSafe shows what a terminal would obey or reorder (escape
// sequences, C1, bidirectional controls) as \xNN or \uNNNN, keeping
// newlines and tabs; a CR before a newline is dropped, as a terminal would
// show the line the same.
export function terminalSafe(text: string): string {
  return cleanText(text.replace(/\r\n/g, "\n"));
}

// AnswerWriter turns the pieces of an answer into what is written out.
export class AnswerWriter {
  private held = "";
  private fence: { marker: string; size: number } | null = null;
  // Whether the last character handed out was a newline (or nothing was).
  atLineStart = true;
  // The line being written before it is whole: what kind it is, and how
  // much of what is held of it (in characters of the agent's text) is out
  // already. "plain" is a line too long to wait for: shown as it comes,
  // without markup.
  private started: { kind: "code" | "text" | "plain"; shown: number } | null = null;

  constructor(readonly mode: TextMode) {}

  // push returns what may be written now for the next piece of text.
  push(text: string): string {
    let all = this.held + text;
    // Held back until the next piece: half of a surrogate pair (writing it
    // alone would print U+FFFD) and a CR that may start a CRLF.
    let keep = 0;
    const last = all.charCodeAt(all.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) keep = 1;
    else if (this.mode !== "raw" && all.endsWith("\r")) keep = 1;
    this.held = all.slice(all.length - keep);
    all = all.slice(0, all.length - keep);
    if (this.mode === "raw") return this.out(all);
    if (this.mode === "safe") return this.out(terminalSafe(all));
    const nl = all.lastIndexOf("\n");
    const lines = nl === -1 ? [] : all.slice(0, nl).split("\n");
    const partial = all.slice(nl + 1);
    const drawn = lines.map((line) => this.whole(line) + "\n").join("") + this.partial(partial);
    // What is out of the line is not held again: each piece of a long line
    // costs its own length, not the line's.
    const shown = this.started?.shown ?? 0;
    if (this.started) this.started.shown = 0;
    this.held = partial.slice(shown) + this.held;
    return this.out(drawn);
  }

  // end returns whatever was held back; the writer can be used again after.
  end(): string {
    const rest = this.held;
    this.held = "";
    let shown = "";
    if (this.mode === "raw") shown = rest;
    else if (this.mode === "safe") shown = terminalSafe(rest);
    else if (rest !== "") shown = this.whole(rest);
    this.fence = null;
    this.started = null;
    return this.out(shown);
  }

  private out(text: string): string {
    if (text !== "") this.atLineStart = text.endsWith("\n");
    return text;
  }

  // whole draws a line now complete, of which some may be out already.
  private whole(line: string): string {
    const started = this.started;
    this.started = null;
    if (!started) return this.line(line);
    const rest = terminalSafe(line.slice(started.shown).replace(/\r$/, ""));
    return started.kind === "text" && line.length <= LONG_LINE ? inline(rest) : rest;
  }

  // partial writes what can be written of a line not yet whole, so a long
  // paragraph is seen being written. Only lines whose kind is already
  // certain start early (prose starting with a letter, a list item, code
  // that cannot be a closing fence); of prose, only words before any
  // markup character, up to a space, as markup may yet close later.
  private partial(line: string): string {
    // A line this long is shown as it comes, its markup as written: held for
    // its end, it would show nothing for as long as it lasts.
    if (line.length > LONG_LINE && this.started?.kind !== "code") {
      const shown = this.started?.shown ?? 0;
      this.started = { kind: "plain", shown: line.length };
      return terminalSafe(line.slice(shown));
    }
    let out = "";
    if (!this.started) {
      const start = this.lineStart(line);
      if (!start) return "";
      this.started = { kind: start.kind, shown: start.shown };
      out = start.prefix;
    }
    const rest = line.slice(this.started.shown);
    let upto = rest.length;
    if (this.started.kind === "text") {
      const markup = rest.search(/[*_`[!~\\<]/);
      const plain = markup === -1 ? rest : rest.slice(0, markup);
      upto = Math.max(plain.lastIndexOf(" "), plain.lastIndexOf("\t")) + 1;
    }
    this.started.shown += upto;
    return out + terminalSafe(rest.slice(0, upto));
  }

  private lineStart(line: string): { kind: "code" | "text"; shown: number; prefix: string } | null {
    if (this.fence) {
      if (/^\s*$|^\s*[`~]/.test(line)) return null;
      return { kind: "code", shown: 0, prefix: CODE_INDENT };
    }
    if (/^\p{L}/u.test(line)) return { kind: "text", shown: 0, prefix: "" };
    const bullet = /^(\s*)[-*+][ \t]+(?=[^\s*_-])/.exec(line);
    if (bullet) return { kind: "text", shown: bullet[0].length, prefix: `${terminalSafe(bullet[1])}• ` };
    return null;
  }

  // line draws one whole line (without its newline) in rendered mode.
  private line(raw: string): string {
    const text = terminalSafe(raw.replace(/\r$/, ""));
    // Markup in a line this long is shown as written: its patterns would
    // take time that grows with the square of its length.
    if (raw.length > LONG_LINE && !this.fence) return text;
    if (this.fence) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(text);
      if (close && close[1][0] === this.fence.marker && close[1].length >= this.fence.size) {
        this.fence = null;
        return dim(text);
      }
      return CODE_INDENT + text;
    }
    const open = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(text);
    if (open && !(open[1][0] === "`" && open[2].includes("`"))) {
      this.fence = { marker: open[1][0], size: open[1].length };
      return dim(text);
    }
    return block(text);
  }
}

// block draws a line outside code fences.
function block(text: string): string {
  const heading = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(text);
  if (heading) {
    // Emphasis inside a heading must not end the heading's own bold.
    const body = inline(heading[2] ?? "").split(NO_BOLD).join(NO_BOLD + BOLD);
    return heading[1].length === 1 ? BOLD + UNDERLINE + body + NO_UNDERLINE + NO_BOLD : BOLD + body + NO_BOLD;
  }
  if (/^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$/.test(text)) return dim(RULE);
  const quote = /^ {0,3}>[ ]?(.*)$/.exec(text);
  if (quote) return dim("│ ") + block(quote[1]);
  // Tables are passed through: aligning them needs every row first.
  if (/^\s*\|/.test(text)) return text;
  const bullet = /^(\s*)[-*+][ \t]+(.*)$/.exec(text);
  if (bullet) return `${bullet[1]}• ${inline(bullet[2])}`;
  const numbered = /^(\s*)(\d{1,9}[.)])[ \t]+(.*)$/.exec(text);
  if (numbered) return `${numbered[1]}${numbered[2]} ${inline(numbered[3])}`;
  return inline(text);
}

// inline draws code spans, links and emphasis within one line.
export function inline(text: string): string {
  const pieces = text.split(/(`+[^`]+?`+)/);
  return pieces.map((piece) => {
    const code = /^(`+)([^`]+?)(`+)$/.exec(piece);
    if (code && code[1].length === code[3].length) return CODE + code[2] + NO_CODE;
    return emphasis(piece);
  }).join("");
}

function emphasis(text: string): string {
  // Links become placeholders first, so emphasis never reaches into a URL.
  // NUL cannot be in the text: terminalSafe escaped it.
  const links: string[] = [];
  let s = text.replace(/(!?)\[([^\]]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g, (_all, bang: string, label: string, url: string) => {
    links.push(bang ? `[image: ${label}] ${dim(url)}` : `${UNDERLINE}${label}${NO_UNDERLINE} ${dim("(" + url + ")")}`);
    return `\u0000${links.length - 1}\u0000`;
  });
  s = s.replace(/\*\*(?=\S)(.*?\S)\*\*/g, `${BOLD}$1${NO_BOLD}`);
  s = s.replace(/(^|\W)__(?=\S)(.*?\S)__(?!\w)/g, `$1${BOLD}$2${NO_BOLD}`);
  s = s.replace(/(^|[^*\w])\*(?=[^\s*])(.*?[^\s*])\*(?![*\w])/g, `$1${ITALIC}$2${NO_ITALIC}`);
  s = s.replace(/(^|[^_\w])_(?=[^\s_])(.*?[^\s_])_(?![_\w])/g, `$1${ITALIC}$2${NO_ITALIC}`);
  s = s.replace(/~~(?=\S)(.*?\S)~~/g, `${STRIKE}$1${NO_STRIKE}`);
  return s.replace(/\u0000(\d+)\u0000/g, (_all, i: string) => links[Number(i)]);
}
