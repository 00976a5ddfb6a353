/**
 * Shows a followed run's progress: on a terminal, one frame redrawn in place (and once a second,
 * so elapsed times move); elsewhere, one line per event. The frame is cut to the terminal's width
 * so a long row never wraps and throws the redraw off.
 *
 * @example
 * ```ts
 * const display = createProgressDisplay(io);
 * display.show(events, progress);
 * display.stop();
 * ```
 */
import type { RunEventPayload } from "../events/mod.ts";
import type { CliIo } from "./cli_io.ts";
import type { RunProgress } from "./progress.ts";
import { describeEvent, renderFrame } from "./progress_render.ts";

/** A progress display. */
export interface ProgressDisplay {
  /** New events and the progress after each (plain) or after all of them (terminal). */
  show(events: { event: RunEventPayload; progress: RunProgress }[]): void;
  /**
   * Stops showing progress, leaving the last frame on screen, before the caller prints something
   * else; events shown after this are ignored until {@link ProgressDisplay.resume}.
   */
  stop(): void;
  /** Shows progress again (after the user answered, say), in a new frame below. */
  resume(): void;
}

/** A display for `io`: live frame on a terminal, plain lines otherwise. */
export function createProgressDisplay(io: CliIo): ProgressDisplay {
  let muted = false;
  if (!io.stdoutIsTerminal) {
    // Lines of events that arrive while muted are printed on resume, so the log has every event.
    let held: string[] = [];
    return {
      show(items) {
        const lines = items.map(({ event, progress }) => describeEvent(event, progress));
        if (muted) held.push(...lines);
        else for (const line of lines) io.out(line);
      },
      stop() {
        muted = true;
      },
      resume() {
        muted = false;
        for (const line of held) io.out(line);
        held = [];
      },
    };
  }
  let drawn = 0;
  let latest: RunProgress | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const draw = () => {
    if (!latest) return;
    // A terminal that reports no size (some ptys say 0) gets a generous default.
    const columns = io.columns();
    const width = (columns >= 20 ? columns : 120) - 1;
    const lines = renderFrame(latest, io.now(), { color: true }).split("\n").map((l) =>
      fitWidth(l, width)
    );
    // Back to the frame's first line, clear to the end of the screen, draw again.
    io.write(`${drawn > 0 ? `\x1b[${drawn}F\x1b[0J` : ""}${lines.join("\n")}\n`);
    drawn = lines.length;
  };
  return {
    show(items) {
      if (items.length === 0) return;
      latest = items[items.length - 1].progress;
      if (muted) return;
      draw();
      ticker ??= setInterval(draw, 1000);
    },
    stop() {
      muted = true;
      // Only a live frame gets its last redraw; after that it stays as printed.
      if (ticker === undefined) return;
      clearInterval(ticker);
      ticker = undefined;
      draw();
      drawn = 0;
    },
    resume() {
      muted = false;
    },
  };
}

/** `line` cut to `width` visible characters, keeping ANSI colour codes intact. */
export function fitWidth(line: string, width: number): string {
  let visible = 0;
  let out = "";
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\x1b") {
      const end = line.indexOf("m", i);
      if (end > i) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible === width) return `${out}\x1b[0m`;
    out += line[i];
    visible++;
  }
  return out;
}
