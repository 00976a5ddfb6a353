/**
 * The CLI's exit statuses, one meaning each, so scripts can branch on them: a finished run, a
 * failed one (or any other error), a command line that cannot be understood, and a run that is
 * waiting for the user's answers.
 */

/** Exit statuses of `bt`. */
export const EXIT = {
  /** Done; a followed run completed. */
  ok: 0,
  /** The run failed or was cancelled, or a request failed. */
  error: 1,
  /** The command line cannot be understood. */
  usage: 2,
  /** The run waits for answers: `bt answer <id>`. */
  awaitingAnswers: 3,
} as const;

/** One of {@link EXIT}'s values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
