/**
 * A cheap token estimate for budgeting context packages before any call is made. It uses the common
 * rule of thumb for BPE tokenizers on English text and code, about four characters per token, plus a
 * small per-message overhead for the chat framing. It is an approximation (exact counts come back
 * from the endpoint as usage); what matters here is that compressed and uncompressed packages are
 * measured the same way.
 */

/** Characters per token assumed by {@link estimateTokens}. */
export const CHARS_PER_TOKEN = 4;
/** Tokens assumed for each message's role and framing. */
export const TOKENS_PER_MESSAGE = 4;

/**
 * Estimated tokens of `text`: `ceil(chars / 4)`.
 *
 * @example
 * ```ts
 * estimateTokens("create table t (id bigint);"); // 7
 * ```
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** Estimated tokens of a conversation: each message's content plus its framing. */
export function estimateMessageTokens(messages: readonly { content: string }[]): number {
  return messages.reduce((sum, m) => sum + TOKENS_PER_MESSAGE + estimateTokens(m.content), 0);
}
