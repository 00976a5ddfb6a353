/**
 * Splits a SQL script into statements with their positions, honouring quotes, quoted identifiers,
 * dollar-quoted bodies and comments, so that errors can be mapped to a statement and a line. This is
 * a lexer, not a parser: syntax is judged by Postgres itself.
 */

/** One statement of a script. */
export interface Statement {
  /** The statement text without the trailing semicolon, trimmed. */
  text: string;
  /** Offset (UTF-16 code units) of the statement's first character in the script. */
  offset: number;
  /** 1-based line of the statement's first character. */
  line: number;
}

/** Splits `script` into its statements, skipping empty ones and
 * pure comments; a statement starts at its first token, after any leading comments. */
export function splitStatements(script: string): Statement[] {
  const out: Statement[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  // Lines are counted incrementally (offsets only grow): linear in the script, however many
  // statements it holds.
  let line = 1;
  let counted = 0;
  const flush = (end: number) => {
    const offset = skipTrivia(script, start, end);
    const text = script.slice(offset, end).trim();
    if (text === "") return;
    for (; counted < offset; counted++) if (script.charCodeAt(counted) === 10) line++;
    out.push({ text, offset, line });
  };
  while (i < n) {
    const c = script[i];
    const next = script[i + 1];
    if (c === "-" && next === "-") {
      const eol = script.indexOf("\n", i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === "/" && next === "*") {
      i = skipBlockComment(script, i);
    } else if (c === "'" || c === '"') {
      i = skipQuoted(script, i, c);
    } else if (c === "$") {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 64));
      if (tag && !/[A-Za-z0-9_]/.test(script[i - 1] ?? "")) {
        const close = script.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
      } else {
        i++;
      }
    } else if (c === ";") {
      flush(i);
      start = i + 1;
      i++;
    } else {
      i++;
    }
  }
  flush(n);
  return out;
}

/** 1-based line number of `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === "\n") line++;
  return line;
}

function skipQuoted(s: string, i: number, q: string): number {
  let j = i + 1;
  while (j < s.length) {
    if (s[j] === q) {
      if (s[j + 1] === q) j += 2;
      else return j + 1;
    } else {
      j++;
    }
  }
  return s.length;
}

function skipBlockComment(s: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < s.length) {
    if (s[j] === "/" && s[j + 1] === "*") {
      depth++;
      j += 2;
    } else if (s[j] === "*" && s[j + 1] === "/") {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return s.length;
}

// First offset in [from, to) that is neither whitespace nor inside a comment.
function skipTrivia(s: string, from: number, to: number): number {
  let i = from;
  while (i < to) {
    if (/\s/.test(s[i])) i++;
    else if (s[i] === "-" && s[i + 1] === "-") {
      const eol = s.indexOf("\n", i);
      i = eol === -1 ? to : eol + 1;
    } else if (s[i] === "/" && s[i + 1] === "*") i = skipBlockComment(s, i);
    else break;
  }
  return Math.min(i, to);
}
