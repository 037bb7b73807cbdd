/** One line of `sluice config check`: what was checked, whether it passed, and why. */
export interface CheckResult {
  /** What was checked, with the key or the address: `acl.file /etc/sluice/acl.conf`. */
  name: string;
  /** `skipped`: not configured, or not checkable after an earlier failure. */
  outcome: 'pass' | 'fail' | 'skipped';
  /** The reason, one line: what was found, or what is wrong and what to do. */
  detail: string;
  /**
   * `local`: the config and the files it names; a failure there stops `sluice start` (exit 2).
   * `external`: a service Sluice waits for (InfluxDB, NATS); `sluice start` runs, not ready (exit 1).
   */
  scope: 'local' | 'external';
}

export const pass = (scope: CheckResult['scope'], name: string, detail: string): CheckResult => ({ name, outcome: 'pass', detail, scope });
export const fail = (scope: CheckResult['scope'], name: string, detail: string): CheckResult => ({ name, outcome: 'fail', detail, scope });
export const skipped = (scope: CheckResult['scope'], name: string, detail: string): CheckResult => ({ name, outcome: 'skipped', detail, scope });

/** The line printed for a result. */
export function formatResult(result: CheckResult): string {
  const mark = result.outcome === 'pass' ? '✓' : result.outcome === 'fail' ? '✗' : '–';
  // A config error lists its issues on lines of their own: one line here, issues split by ';'.
  return `${mark} ${result.name}: ${result.detail.replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ')}`;
}

/** 0 when nothing failed, 2 when a local check failed (what `sluice start` refuses), else 1. */
export function exitCode(results: readonly CheckResult[]): 0 | 1 | 2 {
  const failed = results.filter((r) => r.outcome === 'fail');
  if (failed.length === 0) return 0;
  return failed.some((r) => r.scope === 'local') ? 2 : 1;
}
