import { outputOf, type InfluxConfig } from '../../processors/sink/index.js';
import { VerifyInfluxUnavailableError, VerifyQueryError } from './errors.js';
import { JsonObjectSplitter } from './json-stream.js';
import type { StoredPoint, StoredPointQuery, StoredPointSource } from './types.js';

/** The `influx` settings verify uses. */
export type VerifyInfluxConfig = Pick<InfluxConfig, 'url' | 'version' | 'database' | 'retentionPolicy' | 'retentionPolicies' | 'username' | 'password' | 'bucket' | 'token' | 'timeout'>;

/** Points per chunk of InfluxDB's streamed answer. */
const CHUNK_SIZE = 10_000;
/** InfluxDB's time range (int64 ns), in ms. */
const INFLUX_MIN_MS = -9_223_372_036_854;
const INFLUX_MAX_MS = 9_223_372_036_854;

interface QueryChunk {
  error?: string;
  results?: { error?: string; series?: { name?: string; tags?: Record<string, string>; columns?: string[]; values?: unknown[][] }[] }[];
}

/**
 * Reads window points with InfluxQL over HTTP `/query`, which InfluxDB 1.x, 2.x (its 1.x
 * compatibility API, with a DBRP mapping for the bucket) and 3.x all answer. The answer is
 * streamed (`chunked=true`) and parsed a chunk at a time, so half a million points never
 * become one string. v1: database, retention policy, basic auth; v2: db = bucket and
 * `Authorization: Token`.
 */
export class InfluxPointSource implements StoredPointSource {
  readonly description: string;
  private readonly db: string;
  private readonly headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };

  constructor(private readonly config: VerifyInfluxConfig) {
    this.db = config.version === 2 ? config.bucket! : config.database;
    this.description = `InfluxDB ${config.url}, ${config.version === 2 ? 'bucket' : 'database'} ${this.db}`;
    if (config.version === 2) this.headers.authorization = `Token ${config.token}`;
    else if (config.username !== undefined) this.headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
  }

  /** The InfluxQL for a query: all fields, every tag as a group, devices by prefix, window starts in [from, to]. */
  statement(q: StoredPointQuery): string {
    // Read where the sink wrote the measurement: its output's policy, else influx.retentionPolicy.
    const policy = this.config.version === 1 ? (this.config.retentionPolicies?.[outputOf(q.measurement)] ?? this.config.retentionPolicy) : undefined;
    const rp = policy !== undefined ? `${identifier(policy)}.` : '';
    const from = Math.max(INFLUX_MIN_MS, q.from);
    const to = Math.min(INFLUX_MAX_MS, q.to);
    const iso = (ms: number): string => `'${new Date(ms).toISOString()}'`;
    return `SELECT * FROM ${rp}${identifier(q.measurement)} WHERE "device" =~ /^${regexLiteral(q.devicePrefix)}${q.exact === true ? '$' : ''}/ AND time >= ${iso(from)} AND time <= ${iso(to)} GROUP BY *`;
  }

  async *scan(q: StoredPointQuery): AsyncIterable<StoredPoint[]> {
    const statement = this.statement(q);
    const body = new URLSearchParams({ q: statement, db: this.db, epoch: 'ms', chunked: 'true', chunk_size: String(CHUNK_SIZE) });
    const url = `${this.config.url.replace(/\/+$/, '')}/query`;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const idle = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), this.config.timeout);
    };
    idle();
    try {
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: this.headers, body, signal: abort.signal });
      } catch (err) {
        throw this.unavailable(err, abort.signal.aborted);
      }
      if (!res.ok) throw this.refused(res.status, await res.text().catch(() => ''));
      const splitter = new JsonObjectSplitter();
      const decoder = new TextDecoder();
      try {
        for await (const bytes of res.body! as AsyncIterable<Uint8Array>) {
          idle();
          const batch: StoredPoint[] = [];
          for (const text of splitter.push(decoder.decode(bytes, { stream: true }))) this.readChunk(text, q.measurement, statement, batch);
          if (batch.length > 0) yield batch;
        }
      } catch (err) {
        if (err instanceof VerifyQueryError) throw err;
        throw this.unavailable(err, abort.signal.aborted);
      }
      const rest: StoredPoint[] = [];
      for (const text of splitter.push(decoder.decode())) this.readChunk(text, q.measurement, statement, rest);
      if (rest.length > 0) yield rest;
      if (splitter.incomplete) throw new VerifyInfluxUnavailableError(`${this.description}: the answer to \`${statement}\` was cut off; run verify again`);
    } finally {
      clearTimeout(timer);
      abort.abort(); // closes the connection if the caller stopped early
    }
  }

  private readChunk(text: string, measurement: string, statement: string, into: StoredPoint[]): void {
    let chunk: QueryChunk;
    try {
      chunk = JSON.parse(text) as QueryChunk;
    } catch (err) {
      throw new VerifyQueryError(`${this.description} answered \`${statement}\` with something that is not InfluxDB JSON: ${text.slice(0, 200)}`, { cause: err });
    }
    const error = chunk.error ?? chunk.results?.find((r) => r.error !== undefined)?.error;
    if (error !== undefined) throw new VerifyQueryError(`${this.description} refused \`${statement}\`: ${error}${this.hint(error)}`);
    for (const result of chunk.results ?? []) {
      for (const series of result.series ?? []) {
        const columns = series.columns ?? [];
        const timeAt = columns.indexOf('time');
        const tags = series.tags ?? {};
        for (const row of series.values ?? []) {
          const fields: Record<string, unknown> = {};
          for (let c = 0; c < columns.length; c++) if (c !== timeAt) fields[columns[c]!] = row[c];
          into.push({ measurement: series.name ?? measurement, time: Number(row[timeAt]), tags, fields });
        }
      }
    }
  }

  private hint(error: string): string {
    if (!/database not found|bucket.*not found/i.test(error)) return '';
    if (this.config.version === 2) return `: set influx.bucket to the bucket the processors write to, and give it a DBRP mapping for InfluxQL (\`influx v1 dbrp create --db ${this.db} --rp autogen --bucket-id <id> --default\`)`;
    return `: set influx.database to the database the processors write to (--set influx.database=NAME or the --config file)`;
  }

  private unavailable(err: unknown, timedOut: boolean): VerifyInfluxUnavailableError {
    if (timedOut) return new VerifyInfluxUnavailableError(`${this.description} did not answer for ${this.config.timeout} ms: check that it is up, or raise influx.timeout`, { cause: err });
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (err as Error).message;
    return new VerifyInfluxUnavailableError(`${this.description} is unreachable (${reason}): start InfluxDB, or point verify at it with --set influx.url=http://HOST:PORT or influx.url in the --config file`, { cause: err });
  }

  private refused(status: number, body: string): VerifyQueryError {
    let detail = body.trim().slice(0, 300);
    try {
      const json = JSON.parse(body) as { error?: string; message?: string };
      detail = json.error ?? json.message ?? detail;
    } catch {
      // not JSON: keep the text
    }
    const where = `${this.description} answered ${status}${detail === '' ? '' : ` (${detail})`}`;
    if (status === 401 || status === 403) {
      const fix = this.config.version === 2 ? 'set influx.token to a token that may read the bucket' : 'set influx.username and influx.password to a user with READ on the database';
      return new VerifyQueryError(`${where}: ${fix}`);
    }
    if (status === 404) return new VerifyQueryError(`${where}: no InfluxQL /query endpoint there${this.config.version === 2 ? ` or no DBRP mapping for bucket ${this.db}` : ''}; check influx.url and influx.version`);
    return new VerifyQueryError(`${where}${this.hint(detail)}`);
  }
}

/** A double-quoted InfluxQL identifier. */
function identifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Text matched literally inside an InfluxQL /regex/ (RE2: a backslash before punctuation makes it literal). */
function regexLiteral(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}/-]/g, '\\$&');
}
