/**
 * Reaches InfluxDB as `sluice start` would, with the configured URL, TLS and credentials,
 * and leaves no data behind: GET /ping; v1 `SHOW DATABASES` (credentials, and whether the
 * database is there); then an empty write, which 1.x answers 204 only when the user may
 * write to the database (403 otherwise, 404 when it does not exist) and stores nothing.
 * v2/3.x: the empty write to the bucket checks the token, the org and the bucket at once.
 * v1 with retention policies named (influx.retentionPolicy, influx.retentionPolicies):
 * `SHOW RETENTION POLICIES` says whether each is there, or would be created at start.
 * Stops at the first failure: the later checks would only repeat it.
 */
import { createRetentionPolicyStatement, InfluxHttp, quoteIdent, retentionPoliciesUsed, SinkRejectedError, type Attempt, type InfluxConfig, type QueryBody } from '../../processors/sink/index.js';
import { fail, pass, type CheckResult } from './check.js';

export async function checkInflux(config: InfluxConfig): Promise<CheckResult[]> {
  const http = new InfluxHttp(config);
  const signal = new AbortController().signal;
  const results: CheckResult[] = [];
  const run = async (name: string, probe: () => Promise<string>): Promise<boolean> => {
    try {
      results.push(pass('external', name, await probe()));
      return true;
    } catch (err) {
      results.push(fail('external', name, err instanceof SinkRejectedError ? err.message : (err as Error).message));
      return false;
    }
  };
  try {
    if (!(await run(`InfluxDB ${config.url}`, async () => (ok(await http.ping(signal)), 'answers /ping')))) return results;
    if (config.version === 2) {
      await run(`InfluxDB bucket ${config.bucket}`, async () => (ok(await http.write('', signal)), `influx.token may write to bucket ${config.bucket} in org ${config.org} (checked with an empty write: nothing stored)`));
      return results;
    }
    const who = config.username === undefined ? 'no credentials' : `influx.username ${config.username}`;
    let databases: string[] = [];
    if (!(await run('InfluxDB credentials', async () => {
      databases = listed(ok(await http.query('SHOW DATABASES', signal)));
      return `${who} accepted`;
    }))) return results;
    const name = `InfluxDB database ${config.database}`;
    if (!databases.includes(config.database)) {
      if (config.createDatabase && (await isAdmin(http, signal))) {
        results.push(pass('external', name, 'does not exist yet; sluice start creates it (influx.createDatabase, and the user is an admin)'));
        return results;
      }
      results.push(fail('external', name, `not listed by SHOW DATABASES for ${who}: create it as an admin (\`CREATE DATABASE "${config.database}"\`) and grant the user WRITE on it, or fix influx.database`));
      return results;
    }
    results.push(pass('external', name, 'exists'));
    if (!(await checkRetentionPolicies(http, config, who, signal, results))) return results;
    await run(`InfluxDB write to ${config.database}`, async () => (ok(await http.write('', signal)), `${who} may write (checked with an empty write: nothing stored)`));
    return results;
  } finally {
    http.close();
  }
}

/** One line per retention policy the config writes to; false when one is missing and will not be created. */
async function checkRetentionPolicies(http: InfluxHttp, config: InfluxConfig, who: string, signal: AbortSignal, results: CheckResult[]): Promise<boolean> {
  const used = retentionPoliciesUsed(config);
  if (used.length === 0) return true;
  const show = `SHOW RETENTION POLICIES ON ${quoteIdent(config.database)}`;
  let policies: string[];
  try {
    policies = listed(ok(await http.query(show, signal)), show);
  } catch (err) {
    results.push(fail('external', `InfluxDB retention policies of ${config.database}`, `${(err as Error).message}; the user needs READ (or ALL) on database ${config.database} to list them`));
    return false;
  }
  let admin: boolean | undefined;
  let good = true;
  for (const rp of used) {
    const name = `InfluxDB retention policy ${rp}`;
    if (policies.includes(rp)) {
      results.push(pass('external', name, 'exists (never altered by Sluice)'));
      continue;
    }
    const definition = config.createRetentionPolicies?.find((d) => d.name === rp);
    if (definition !== undefined && (admin ??= await isAdmin(http, signal))) {
      results.push(pass('external', name, `does not exist yet; sluice start creates it (influx.createRetentionPolicies: DURATION ${definition.duration}, and the user is an admin)`));
      continue;
    }
    const statement = createRetentionPolicyStatement(config.database, definition ?? { name: rp, duration: 'INF', replication: 1 });
    const why = definition === undefined ? 'influx.createRetentionPolicies does not define it' : `${who} is not an admin, so sluice start cannot create it`;
    results.push(fail('external', name, `not listed by ${show}, and ${why}: as an admin run \`${statement}\`${definition === undefined ? ' (with the duration you want)' : ''}, or fix influx.retentionPolicies`));
    good = false;
  }
  return good;
}

/** The answer's body when the request succeeded; throws the reason when it did not. */
function ok(attempt: Attempt): unknown {
  if (attempt.kind === 'ok') return attempt.body;
  throw new Error(attempt.kind === 'retry' ? attempt.error.message : attempt.message);
}

/** The names (first column) of a SHOW DATABASES or SHOW RETENTION POLICIES answer; throws its statement error. */
function listed(body: unknown, statement = 'SHOW DATABASES'): string[] {
  const result = (body as QueryBody | undefined)?.results?.[0];
  if (result?.error !== undefined) throw new Error(`${statement} failed: ${result.error}`);
  return (result?.series ?? []).flatMap((series) => (series.values ?? []).map((row) => String(row[0])));
}

/** `SHOW USERS` needs an admin: the cheapest question whose answer says whether CREATE DATABASE would be allowed. */
async function isAdmin(http: InfluxHttp, signal: AbortSignal): Promise<boolean> {
  try {
    const attempt = await http.query('SHOW USERS', signal);
    return attempt.kind === 'ok' && (attempt.body as QueryBody | undefined)?.results?.[0]?.error === undefined;
  } catch {
    return false;
  }
}
