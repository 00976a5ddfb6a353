/**
 * Turning what the user types into the answers a run waits for. Questions are typed (text, a
 * choice among offered values, yes/no), so `--answer table_size=2` picks the second choice and
 * `--answer use_realtime=yes` sends `true`; a question asked twice (`-a tags=a -a tags=b`) sends a
 * list. On a terminal the CLI asks each question in turn instead. The server checks the answers
 * again; this only spares the user a round trip for an obvious slip.
 *
 * @example
 * ```ts
 * answersFromPairs(["confirm=yes"], [{ id: "confirm", text: "Go?", kind: "boolean", choices: null, required: true }]);
 * // { confirm: true }
 * ```
 */
import type { Answers, Run } from "../runs/mod.ts";
import { UsageError } from "./args.ts";

/** A question a run asks, read leniently from its clarification. */
export interface AskedQuestion {
  id: string;
  text: string;
  kind: "text" | "choice" | "boolean";
  choices: string[];
  required: boolean;
}

/** What a run waiting for answers says: why, and its questions. */
export interface PendingQuestions {
  reason?: string;
  questions: AskedQuestion[];
}

/** The questions `run` waits on (empty when it waits on none). */
export function pendingQuestions(run: Pick<Run, "clarification">): PendingQuestions {
  const clarification = run.clarification;
  const questions: AskedQuestion[] = [];
  for (const q of clarification?.questions ?? []) {
    if (typeof q !== "object" || q === null) continue;
    const { id, text, kind, choices, required } = q as Record<string, unknown>;
    if (typeof id !== "string") continue;
    const offered = Array.isArray(choices)
      ? choices.filter((c): c is string => typeof c === "string")
      : [];
    questions.push({
      id,
      text: typeof text === "string" ? text : id,
      kind: kind === "choice" || kind === "boolean" ? kind : "text",
      choices: offered,
      required: required !== false,
    });
  }
  return { reason: clarification?.reason, questions };
}

/** The questions as the user reads them, each with its id and how to answer. */
export function formatQuestions(pending: PendingQuestions): string {
  const lines: string[] = [];
  if (pending.reason) lines.push(pending.reason);
  for (const q of pending.questions) {
    lines.push(`  ${q.id}${q.required ? "" : " (optional)"}: ${q.text}`);
    if (q.kind === "choice") {
      q.choices.forEach((c, i) => lines.push(`      ${i + 1}. ${c}`));
    } else if (q.kind === "boolean") {
      lines.push("      yes / no");
    }
  }
  return lines.join("\n");
}

/** An `--answer` line that answers every required question, for the "run bt answer" hint. */
export function answerHint(runId: string, pending: PendingQuestions): string {
  const flags = pending.questions.filter((q) => q.required).map((q) =>
    `--answer ${q.id}=${q.kind === "boolean" ? "yes" : q.kind === "choice" ? "1" : "'…'"}`
  );
  return `deno task bt answer ${runId} ${flags.join(" ")}`.trimEnd();
}

/** The answers of `--answer id=value` flags, typed by the questions; throws {@link UsageError}. */
export function answersFromPairs(pairs: readonly string[], questions: AskedQuestion[]): Answers {
  const byId = new Map(questions.map((q) => [q.id, q]));
  const collected = new Map<string, (string | boolean)[]>();
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    const id = pair.slice(0, at).trim();
    const raw = pair.slice(at + 1);
    const question = byId.get(id);
    if (questions.length > 0 && !question) {
      throw new UsageError(
        `no question "${id}" is asked; the questions are: ${questions.map((q) => q.id).join(", ")}`,
      );
    }
    const typed = question ? typedAnswer(question, raw) : { ok: true as const, value: raw };
    if (!typed.ok) throw new UsageError(`--answer ${id}: ${typed.why}`);
    collected.set(id, [...(collected.get(id) ?? []), typed.value]);
  }
  const answers: Answers = {};
  for (const [id, values] of collected) {
    answers[id] = values.length === 1 ? values[0] : values.map(String);
  }
  return answers;
}

/** Reads one line from the user; `null` at end of input. */
export type AskLine = (prompt: string) => string | null | Promise<string | null>;

/**
 * Asks each question on a terminal, again until the answer fits; an optional question may be
 * left empty. Returns `undefined` if the input ends first.
 */
export async function askAnswers(
  pending: PendingQuestions,
  ask: AskLine,
  write: (line: string) => void,
): Promise<Answers | undefined> {
  const answers: Answers = {};
  for (const q of pending.questions) {
    write(`\n${q.text}${q.required ? "" : " (optional, Enter to skip)"}`);
    if (q.kind === "choice") q.choices.forEach((c, i) => write(`  ${i + 1}. ${c}`));
    for (;;) {
      const line = await ask(q.kind === "boolean" ? `${q.id} [yes/no]>` : `${q.id}>`);
      if (line === null) return undefined;
      if (line.trim() === "") {
        if (!q.required) break;
        write("  an answer is required");
        continue;
      }
      const typed = typedAnswer(q, line.trim());
      if (!typed.ok) {
        write(`  ${typed.why}`);
        continue;
      }
      answers[q.id] = typed.value;
      break;
    }
  }
  return answers;
}

type Typed = { ok: true; value: string | boolean } | { ok: false; why: string };

// The answer typed for its question, or why the text does not fit it.
function typedAnswer(q: AskedQuestion, raw: string): Typed {
  switch (q.kind) {
    case "boolean": {
      const word = raw.trim().toLowerCase();
      if (["y", "yes", "true", "1"].includes(word)) return { ok: true, value: true };
      if (["n", "no", "false", "0"].includes(word)) return { ok: true, value: false };
      return { ok: false, why: "answer yes or no" };
    }
    case "choice": {
      const text = raw.trim();
      const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
      const picked = q.choices.find((c) => c === text) ??
        (n >= 1 && n <= q.choices.length ? q.choices[n - 1] : undefined) ??
        q.choices.find((c) => c.toLowerCase() === text.toLowerCase());
      if (picked !== undefined) return { ok: true, value: picked };
      const offered = q.choices.map((c, i) => `${i + 1} (${JSON.stringify(c)})`).join(", ");
      return { ok: false, why: `pick one of ${offered}` };
    }
    case "text":
      return { ok: true, value: raw };
  }
}
