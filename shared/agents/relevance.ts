/**
 * Decides whether a piece of earlier output concerns the tables a task works on. Text that names a
 * focus table is relevant; text that names only other known tables is unrelated and stays out of the
 * context; text that names no table at all (a deploy step, a CORS helper) is neutral and may be kept.
 */
import { mentionPattern } from "../schema_summary/mod.ts";

/** How a text relates to the task's tables. */
export type Relevance = "relevant" | "unrelated" | "neutral";

/** A classifier over fixed focus and other tables. */
export interface TableRelevance {
  classify(text: string): Relevance;
  /** Keeps the sentences of `text` that are not unrelated. */
  filterSentences(text: string): string;
}

/** Builds a classifier: `focus` are the task's tables, `others` every other known table. */
export function tableRelevance(
  focus: readonly string[],
  others: readonly string[],
): TableRelevance {
  const focusPatterns = focus.map(mentionPattern);
  const otherPatterns = others.map(mentionPattern);
  const classify = (text: string): Relevance => {
    if (focusPatterns.some((p) => p.test(text))) return "relevant";
    if (otherPatterns.some((p) => p.test(text))) return "unrelated";
    return "neutral";
  };
  return {
    classify,
    filterSentences(text: string): string {
      return text.split(/(?<=[.!?])\s+|\n+/).filter((s) => s.trim() !== "")
        .filter((s) => classify(s) !== "unrelated").join(" ").replace(/\s+/g, " ").trim();
    },
  };
}
