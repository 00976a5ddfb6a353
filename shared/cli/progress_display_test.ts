import assert from "node:assert/strict";
import type { CliIo } from "./cli_io.ts";
import { applyEvent, emptyProgress } from "./progress.ts";
import { createProgressDisplay, fitWidth } from "./progress_display.ts";
import { sampleEvents } from "./testdata/sample_events.ts";

const ESC = "\x1b";
const REDRAW = new RegExp(`${ESC}\\[\\d+F${ESC}\\[0J`);
const COLOUR = new RegExp(`${ESC}\\[[0-9;]*m`, "g");

function captureIo(terminal: boolean): CliIo & { stdout: string[]; raw: string[] } {
  const stdout: string[] = [];
  const raw: string[] = [];
  return {
    stdout,
    raw,
    out: (t) => stdout.push(t),
    err: () => {},
    write: (t) => raw.push(t),
    stdoutIsTerminal: terminal,
    stdinIsTerminal: false,
    columns: () => 60,
    ask: () => null,
    now: () => Date.parse("2026-11-25T12:00:10Z"),
    env: {},
  };
}

function items() {
  let progress = emptyProgress(sampleEvents()[0].run_id);
  return sampleEvents().map((event) => {
    progress = applyEvent(progress, event);
    return { event, progress };
  });
}

Deno.test("off a terminal, every event is its own line and nothing is redrawn", () => {
  const io = captureIo(false);
  const display = createProgressDisplay(io);
  display.show(items());
  display.stop();
  assert.equal(io.stdout.length, 9);
  assert.deepEqual(io.raw, []);
});

Deno.test("on a terminal, the frame is redrawn in place over the previous one", () => {
  const io = captureIo(true);
  const display = createProgressDisplay(io);
  const all = items();
  display.show(all.slice(0, 5));
  display.show(all.slice(5));
  display.stop();
  const frames = io.raw.length;
  display.stop();
  assert.equal(io.raw.length, frames, "a stopped display is not drawn again below later output");
  assert.equal(io.stdout.length, 0);
  assert.ok(!io.raw[0].startsWith("\x1b["), "the first frame is drawn where the cursor is");
  // Second frame: back up over the three lines drawn (run + 2 tasks), clear, draw again.
  assert.ok(io.raw[1].startsWith("\x1b[3F\x1b[0J"), JSON.stringify(io.raw[1].slice(0, 12)));
  for (const frame of io.raw) {
    for (const line of frame.replace(REDRAW, "").split("\n")) {
      assert.ok(line.replace(COLOUR, "").length <= 59, line);
    }
  }
});

Deno.test("long lines are cut to the terminal width without breaking colour codes", () => {
  assert.equal(fitWidth("abcdef", 4), "abcd\x1b[0m");
  assert.equal(fitWidth("\x1b[32mabcdef\x1b[0m", 3), "\x1b[32mabc\x1b[0m");
  assert.equal(fitWidth("abc", 10), "abc");
});

Deno.test("events arriving while the display is stopped are not printed under what follows, until it resumes", () => {
  for (const terminal of [false, true]) {
    const io = captureIo(terminal);
    const display = createProgressDisplay(io);
    const all = items();
    display.show(all.slice(0, 8));
    display.stop();
    const before = [io.stdout.length, io.raw.length];
    display.show(all.slice(8));
    assert.deepEqual([io.stdout.length, io.raw.length], before, `terminal: ${terminal}`);
    display.resume();
    display.show([]);
    if (terminal) {
      display.show(all.slice(8));
      assert.ok(io.raw.at(-1)!.includes("succeeded"), "the new frame shows the latest state");
    } else {
      assert.equal(io.stdout.at(-1), "#9 T1 db-architect succeeded");
    }
  }
});
