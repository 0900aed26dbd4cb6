/**
 * Bugs the campaign found (see RELIABILITY.md). Each has a reproduction in test/chaos-bugs.test.ts.
 * While a bug is open (`fixed: false`), the campaign prints every violation it explains under "known
 * bugs" instead of failing the run, and only after proving the attribution. A fixed bug stays listed
 * with `fixed: true`: the same violation then fails the run as a regression.
 */
export const KNOWN_BUGS = {
  'fork-prefix-cache': {
    title:
      "store's fork-prefix cache is keyed by parent@forkedFrom.seq, but forks of a fork at different inherited messages share that seq: a handle that read one such fork serves its prefix for the others",
    test: 'test/chaos-bugs.test.ts',
    fixed: true,
  },
  'failed-fork-leaves-child': {
    title:
      'forkSession / createSession({parentId}) that fails after the child log is written (parent lock timeout, storage fault on the parent) reports failure but leaves the child session behind; a retry with the same id then fails with SessionExistsError',
    test: 'test/chaos-bugs.test.ts',
    fixed: true,
  },
  'lock-stolen-on-clock-skew': {
    title:
      "a live lock holder's lock is stolen when the waiter's wall clock is ahead of the holder's by more than lockStaleMs (staleness is judged from the holder's wall-clock `at`)",
    test: 'test/chaos-bugs.test.ts',
    fixed: true,
  },
  'unvalidated-event-bodies': {
    title:
      'the log reader checks only the envelope (seq, at, type) of most events: a line like {"seq":2,"at":"","type":"snapshot.created"} (or metadata.patched without patch, share.enabled without token) makes reads or the next append throw a raw TypeError instead of CorruptSessionError',
    test: 'test/chaos-bugs.test.ts',
    fixed: true,
  },
} as const satisfies Record<string, { title: string; test: string; fixed: boolean }>;

export type KnownBugId = keyof typeof KNOWN_BUGS;
