/**
 * The exit codes of every `sluice` command, defined once (README, "Exit codes").
 * 70 is sysexits' EX_SOFTWARE and 130 the shell's 128 + SIGINT, so supervisors and shells
 * read them as they read other tools'.
 */
export const ExitCode = {
  /** Done, or stopped cleanly by the first SIGINT/SIGTERM. */
  ok: 0,
  /** A runtime failure (a service unreachable, storage, a retryable error), or checks that ran and failed (`verify` not exact, unacknowledged publishes). */
  failed: 1,
  /** The config or the command line cannot work as given: fix it and run again. */
  usage: 2,
  /** A bug: an unexpected error or a processor thread that failed; the stack is printed. */
  internal: 70,
  /** A second SIGINT/SIGTERM while stopping: stopped without finishing. */
  interrupted: 130,
} as const;
