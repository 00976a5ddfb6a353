/**
 * The CLI's contact with the outside world — output streams, whether they are terminals, reading
 * a line from the user, the clock, the environment — behind one small interface, so the commands
 * run the same from `main.ts`, from the demo, and in tests that capture what they print.
 *
 * @example
 * ```ts
 * const code = await runCli(Deno.args, denoIo());
 * ```
 */
import type { AskLine } from "./answers.ts";
import type { CliEnv } from "./connection.ts";

/** What commands read and write. */
export interface CliIo {
  /** A line (or lines) on standard output. */
  out(text: string): void;
  /** A line (or lines) on standard error. */
  err(text: string): void;
  /** Raw text on standard output, for redrawing in place. */
  write(text: string): void;
  /** Whether standard output is a terminal (live redraw with ANSI) or not (one line per event). */
  stdoutIsTerminal: boolean;
  /** Whether standard input is a terminal (the CLI may ask questions). */
  stdinIsTerminal: boolean;
  /** Terminal width in columns (for cutting long lines in the live display). */
  columns(): number;
  ask: AskLine;
  now(): number;
  env: CliEnv;
}

/** The process's streams, environment and clock. */
export function denoIo(): CliIo {
  const encoder = new TextEncoder();
  const stdoutIsTerminal = Deno.stdout.isTerminal();
  return {
    out: (text) => console.log(text),
    err: (text) => console.error(text),
    write: (text) => {
      const bytes = encoder.encode(text);
      for (let written = 0; written < bytes.length;) {
        written += Deno.stdout.writeSync(bytes.subarray(written));
      }
    },
    stdoutIsTerminal,
    stdinIsTerminal: Deno.stdin.isTerminal(),
    columns: () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 100;
      }
    },
    ask: (prompt) => globalThis.prompt(prompt),
    now: () => Date.now(),
    env: Deno.env.toObject(),
  };
}
