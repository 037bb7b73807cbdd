/** Writes batches of line protocol to InfluxDB, and deletes points, resolving only once InfluxDB has them. */
import type { InfluxConfig } from './config.js';
import { PointInvalidError, SinkClosedError, SinkGateClosedError, SinkRejectedError, type SinkUnavailableError } from './errors.js';
import { InfluxHttp, type Attempt, type InfluxHttpConfig, type QueryBody } from './influx-http.js';
import { influxqlDelete, influxqlIdent, storedSeries, v2DeleteRequest } from './point-delete.js';
import type { SinkPointId } from './point.js';
import { createRetentionPolicyStatement, quoteIdent, retentionPoliciesUsed } from './retention.js';
import { Slots } from './slots.js';
import type { WriteGate } from './write-gate.js';

/** The `influx.*` settings the writer uses (a parsed InfluxConfig has them all). */
export type InfluxWriterConfig = InfluxHttpConfig & Pick<InfluxConfig, 'maxRetries' | 'maxRetryDelay'> & Partial<Pick<InfluxConfig, 'createDatabase' | 'retentionPolicies' | 'createRetentionPolicies'>>;

/** What ensureDatabase() found: the database is there (or was made), or it is missing and why. */
export type DatabaseState = { state: 'exists' | 'created' } | { state: 'missing'; reason: string };

/** What ensureRetentionPolicies() found for one policy the config writes to. */
export type RetentionPolicyState = { name: string } & DatabaseState;

export interface InfluxWriterOptions {
  /**
   * A line InfluxDB refused for its content (type conflict, unparsable); the caller counts
   * and logs it. `count` > 1 when InfluxDB 1.x dropped several lines of a partial write
   * (`line` then says so instead of quoting one).
   */
  onBadPoint: (line: string, message: string, count?: number) => void;
  /** Called before each wait for a retry, for metrics and logs; `attempt` counts from 1. */
  onRetry?: (error: SinkUnavailableError, attempt: number, delayMs: number) => void;
  /** First step of the backoff, default 100 ms: retry n waits random(0, min(maxRetryDelay, base·2^(n-1))). */
  minRetryDelay?: number;
  /** One request InfluxDB answered (accepted or refused), and how long it took: the sink write latency. */
  onRequest?: (seconds: number) => void;
  /** A request (write or delete, a retry included) is about to be sent. */
  onRequestStart?: () => void;
  /** `count` deletes took effect (InfluxDB accepted them; a point already gone counts too). */
  onDeleted?: (count: number) => void;
  /**
   * A delete InfluxDB refused, or one that cannot be written (its statement or request body,
   * or the point as JSON, and why); the point stays. Default: onBadPoint.
   */
  onBadDelete?: (what: string, message: string) => void;
  /**
   * With it, a write or delete InfluxDB refuses for a reason only an operator can fix (401,
   * 403, 404: credentials, a missing GRANT or database) is kept and tried again with backoff,
   * as in an outage, instead of rejecting with SinkRejectedError: a GRANT or CREATE DATABASE
   * then takes effect without a restart. Called with the refusal when one starts (or its
   * reason changes) and with undefined when InfluxDB takes a request again.
   */
  onRefusal?: (error: SinkRejectedError | undefined) => void;
  /**
   * Distributed mode: while closed, no write or delete request is sent, a retry included;
   * one due then rejects with SinkGateClosedError (the sink puts its points back and waits).
   */
  gate?: Pick<WriteGate, 'isOpen'>;
}

/** DELETE statements per /query request (1.x runs them in order and stops at the first that fails). */
const DELETES_PER_QUERY = 100;

/**
 * One writer per processor, shared by its partitions' sinks: it bounds the requests in flight
 * across all of them. Retriable failures are retried until `close()` (or `maxRetries`): while
 * InfluxDB is down, write() simply does not resolve and the checkpoint does not advance.
 */
export class InfluxWriter {
  private readonly http: InfluxHttp;
  private readonly slots: Slots;
  private readonly stop = new AbortController();
  private readonly minRetryDelay: number;
  /** Backoff waits in progress, so close() can end them without a listener per wait on the signal. */
  private readonly waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  /** The refusal being waited out (onRefusal mode), to report its start and end once each. */
  private refusal: string | undefined;

  constructor(
    private readonly config: InfluxWriterConfig,
    private readonly options: InfluxWriterOptions,
  ) {
    this.http = new InfluxHttp(config);
    this.slots = new Slots(config.maxInflightRequests, this.stop.signal);
    this.minRetryDelay = options.minRetryDelay ?? 100;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.stop.signal.aborted;
  }

  /**
   * Writes the lines; resolves when InfluxDB has accepted every good one (204) and each bad
   * one went to onBadPoint. Rejects with SinkRejectedError (fix the config), SinkClosedError,
   * or SinkUnavailableError once maxRetries is spent.
   */
  async write(lines: readonly string[], rp?: string): Promise<void> {
    if (lines.length === 0) return;
    const outcome = await this.attempt((signal) => this.http.write(lines.join('\n'), signal, rp));
    if (outcome.kind === 'ok') return;
    if (lines.length === 1) {
      this.options.onBadPoint(lines[0]!, rp === undefined ? outcome.message : `${outcome.message} (retention policy ${rp})`);
      return;
    }
    if (outcome.kind === 'badPoints' && this.config.version === 1 && outcome.message.startsWith('partial write')) {
      // 1.x has stored every good line of a partial write and names the bad ones' problem
      // (tag, field, measurement) and count. Bisecting to quote them cost ~2·log2(batch)
      // requests per bad point, and every other device's points waited behind them.
      const dropped = Number(/dropped=(\d+)/.exec(outcome.message)?.[1] ?? 1);
      this.options.onBadPoint(`(${dropped} of ${lines.length} lines in one write)`, outcome.message, dropped);
      return;
    }
    // 413: halve until each part fits. 400/422 without a partial write (2.x, or a batch 1.x
    // refused whole): InfluxDB does not say which line is bad, so bisect. Halves go in order
    // so that a later duplicate of a point still lands last, as it would have in the whole batch.
    const mid = lines.length >>> 1;
    await this.write(lines.slice(0, mid), rp);
    await this.write(lines.slice(mid), rp);
  }

  /**
   * Deletes each point (its series at its time). Resolves when InfluxDB has applied every
   * delete it accepts and each refused one went to onBadDelete; rejects like write(). The
   * caller orders deletes after the writes they undo. Deleting a point that is not there
   * does nothing, so a replay may delete again.
   * - 1.x: one `SHOW TAG KEYS` for the measurements, then `DELETE` statements, up to
   *   DELETES_PER_QUERY a request (see influxqlDelete). The user needs READ as well as
   *   WRITE; without READ the deletes are refused (onBadDelete), not retried.
   * - 2.x: one POST /api/v2/delete a point (the predicate has no OR), in parallel up to
   *   maxInflightRequests. The client's DeleteAPI (@influxdata/influxdb-client-apis) is not
   *   used: it is one plain POST, and going through InfluxHttp keeps timeouts, retries and
   *   error handling the same as writes.
   * `rp` is the retention policy the points were written to (influx.retentionPolicy when
   * undefined): their tag keys are read there. 1.x's DELETE itself names no retention policy
   * and deletes the point from every policy of the database.
   */
  async delete(points: readonly SinkPointId[], rp?: string): Promise<void> {
    if (points.length === 0) return;
    if (this.config.version === 2) {
      await Promise.all(points.map((point) => this.deleteV2(point)));
      return;
    }
    const keys = await this.tagKeys(points, rp ?? this.config.retentionPolicy);
    const statements: string[] = [];
    for (const point of points) {
      const what = () => `delete of ${JSON.stringify(point)}`;
      if (typeof keys === 'string') {
        this.badDelete(what(), keys);
        continue;
      }
      try {
        statements.push(influxqlDelete(point, keys.get(storedSeries(point).measurement)));
      } catch (err) {
        if (!(err instanceof PointInvalidError)) throw err;
        this.badDelete(what(), err.message);
      }
    }
    for (let i = 0; i < statements.length; i += DELETES_PER_QUERY) await this.runDeletes(statements.slice(i, i + DELETES_PER_QUERY));
  }

  /**
   * v1: makes sure influx.database exists. `SHOW DATABASES` first: it needs no admin and lists
   * every database the user has a privilege on, so a non-admin user with ALL or WRITE on an
   * existing one finds it and nothing is created. Only when it is not listed and
   * influx.createDatabase is on does it run `CREATE DATABASE` (admin only); a refusal there is
   * not an error: the database is reported missing with what to do. Throws SinkRejectedError
   * when InfluxDB refuses the credentials, and SinkUnavailableError only when maxRetries is set.
   * v2: nothing to do (buckets are created in InfluxDB).
   */
  async ensureDatabase(): Promise<DatabaseState> {
    if (this.config.version === 2) return { state: 'exists' };
    const { database, username, url } = this.config;
    const shown = await this.attempt((signal) => this.http.query('SHOW DATABASES', signal), 'query');
    const result = shown.kind === 'ok' ? (shown.body as QueryBody | undefined)?.results?.[0] : undefined;
    if (shown.kind !== 'ok' || result?.error !== undefined) throw new SinkRejectedError(`InfluxDB at ${url} refused \`SHOW DATABASES\`: ${shown.kind === 'ok' ? result?.error : shown.message}`, 400);
    const names = (result?.series ?? []).flatMap((series) => (series.values ?? []).map((row) => String(row[0])));
    if (names.includes(database)) return { state: 'exists' };
    const who = username === undefined ? 'InfluxDB without credentials' : `influx.username ${username}`;
    if (this.config.createDatabase === false) return { state: 'missing', reason: `database ${database} is not listed by \`SHOW DATABASES\` for ${who} and influx.createDatabase is false: create it as an admin (\`CREATE DATABASE "${database}"\`) and grant this user WRITE on it` };
    const statement = `CREATE DATABASE "${database.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    let created: Exclude<Attempt, { kind: 'retry' }>;
    try {
      created = await this.attempt((signal) => this.http.query(statement, signal), 'query');
    } catch (err) {
      // 1.x answers 403 to a user that is not an admin; the message it then builds is about writes.
      if (!(err instanceof SinkRejectedError && err.status === 403)) throw err;
      return { state: 'missing', reason: `database ${database} does not exist (or ${who} has no privilege on it) and ${who} may not create it (\`${statement}\` needs an admin): create it as an admin and grant this user WRITE on it, or set influx.database` };
    }
    const error = created.kind === 'ok' ? (created.body as QueryBody | undefined)?.results?.[0]?.error : created.message;
    if (error !== undefined) throw new SinkRejectedError(`InfluxDB at ${url} refused \`${statement}\`: ${error}`, 400);
    return { state: 'created' };
  }

  /**
   * v1, after ensureDatabase(): makes sure each retention policy the config writes to exists.
   * `SHOW RETENTION POLICIES ON <database>` first; a policy it does not list is created with
   * `CREATE RETENTION POLICY … DURATION … REPLICATION …` when influx.createRetentionPolicies
   * defines it (admins only; a 403 is not an error: the policy is reported missing with what
   * to do, and the writes to it wait, refused, until it exists). One it lists is left as it
   * is, even when its duration differs from the definition: Sluice never ALTERs a policy, and
   * never makes one the DEFAULT. Throws like ensureDatabase().
   */
  async ensureRetentionPolicies(): Promise<RetentionPolicyState[]> {
    const used = this.config.version === 1 ? retentionPoliciesUsed(this.config) : [];
    if (used.length === 0) return [];
    const { database, url, username } = this.config;
    const show = `SHOW RETENTION POLICIES ON ${quoteIdent(database)}`;
    const who = username === undefined ? 'InfluxDB without credentials' : `influx.username ${username}`;
    let shown: Exclude<Attempt, { kind: 'retry' }>;
    try {
      shown = await this.attempt((signal) => this.http.query(show, signal), 'query');
    } catch (err) {
      if (!(err instanceof SinkRejectedError && err.status === 403)) throw err;
      return used.map((name) => ({ name, state: 'missing', reason: `\`${show}\` was refused for ${who}, so retention policy ${name} cannot be checked: grant this user READ (or ALL) on database ${database}, or make sure the policy exists` }));
    }
    const result = shown.kind === 'ok' ? (shown.body as QueryBody | undefined)?.results?.[0] : undefined;
    if (shown.kind !== 'ok' || result?.error !== undefined) {
      // The database is missing (ensureDatabase said so): nothing to check the policies against.
      const error = shown.kind === 'ok' ? result?.error : shown.message;
      return used.map((name) => ({ name, state: 'missing', reason: `retention policy ${name} cannot be checked: \`${show}\` answered ${error}` }));
    }
    const listed = new Set((result?.series ?? []).flatMap((series) => (series.values ?? []).map((row) => String(row[0]))));
    const states: RetentionPolicyState[] = [];
    for (const name of used) {
      if (listed.has(name)) {
        states.push({ name, state: 'exists' });
        continue;
      }
      const definition = this.config.createRetentionPolicies?.find((rp) => rp.name === name);
      const statement = createRetentionPolicyStatement(database, definition ?? { name, duration: 'INF', replication: 1 });
      if (definition === undefined) {
        states.push({ name, state: 'missing', reason: `retention policy ${name} is not listed by \`${show}\` and influx.createRetentionPolicies does not define it: define it there, or create it as an admin (\`${statement}\`, with the duration you want)` });
        continue;
      }
      let created: Exclude<Attempt, { kind: 'retry' }>;
      try {
        created = await this.attempt((signal) => this.http.query(statement, signal), 'query');
      } catch (err) {
        // 1.x answers 403 to a user that is not an admin.
        if (!(err instanceof SinkRejectedError && err.status === 403)) throw err;
        states.push({ name, state: 'missing', reason: `retention policy ${name} does not exist on database ${database} and ${who} may not create it (\`${statement}\` needs an admin): run it as an admin, or write this output to an existing policy` });
        continue;
      }
      const error = created.kind === 'ok' ? (created.body as QueryBody | undefined)?.results?.[0]?.error : created.message;
      if (error !== undefined) throw new SinkRejectedError(`InfluxDB at ${url} refused \`${statement}\`: ${error}`, 400);
      states.push({ name, state: 'created' });
    }
    return states;
  }

  /** Stops retrying and aborts requests in flight; pending write() calls reject with SinkClosedError. */
  close(): void {
    if (this.closed) return;
    this.stop.abort(new SinkClosedError());
    this.http.close();
    for (const wait of this.waits) {
      clearTimeout(wait.timer);
      wait.resolve();
    }
    this.waits.clear();
  }

  private badDelete(what: string, message: string): void {
    (this.options.onBadDelete ?? this.options.onBadPoint)(what, message);
  }

  /** v2: one delete request, retried like a write. */
  private async deleteV2(point: SinkPointId): Promise<void> {
    let body: string;
    try {
      body = JSON.stringify(v2DeleteRequest(point));
    } catch (err) {
      if (!(err instanceof PointInvalidError)) throw err;
      return this.badDelete(`delete of ${JSON.stringify(point)}`, err.message);
    }
    const outcome = await this.attempt((signal) => this.http.delete(body, signal));
    if (outcome.kind === 'ok') this.options.onDeleted?.(1);
    else this.badDelete(body, outcome.message);
  }

  /**
   * v1: the tag keys of each measurement of `points` (stored names), or why they cannot be
   * had: then no delete can be made exact, and none is made.
   */
  private async tagKeys(points: readonly SinkPointId[], rp: string | undefined): Promise<Map<string, string[]> | string> {
    const sources = new Set<string>();
    for (const point of points) {
      try {
        const measurement = influxqlIdent(storedSeries(point).measurement, point);
        sources.add(rp === undefined ? measurement : `${influxqlIdent(rp, point)}.${measurement}`);
      } catch (err) {
        if (!(err instanceof PointInvalidError)) throw err; // that point's delete says why
      }
    }
    const keys = new Map<string, string[]>();
    if (sources.size === 0) return keys;
    const statement = `SHOW TAG KEYS FROM ${[...sources].join(', ')}`;
    let outcome: Exclude<Attempt, { kind: 'retry' }>;
    try {
      // Not waited out: a user with WRITE but no READ keeps writing, its deletes are refused.
      outcome = await this.attempt((signal) => this.http.query(statement, signal, this.config.database), 'query');
    } catch (err) {
      if (!(err instanceof SinkRejectedError && err.status === 403)) throw err;
      return `\`${statement}\` was refused (${err.message}); deleting superseded points needs READ on database ${this.config.database}: \`GRANT READ ON "${this.config.database}" TO <user>\` (or ALL)`;
    }
    if (outcome.kind !== 'ok') return `InfluxDB refused \`${statement}\`: ${outcome.message}`;
    const result = (outcome.body as QueryBody | undefined)?.results?.[0];
    if (result?.error !== undefined) return `InfluxDB refused \`${statement}\`: ${result.error}`;
    for (const series of result?.series ?? []) {
      if (series.name !== undefined) keys.set(series.name, (series.values ?? []).map((row) => String(row[0])));
    }
    return keys;
  }

  /**
   * v1: runs DELETE statements in one request. 1.x runs them in order and stops at the first
   * that fails; it then reports that one as "not executed" and leaves out the rest, so the
   * failed one is sent alone (which says why) and the rest again.
   */
  private async runDeletes(statements: readonly string[]): Promise<void> {
    let rest = statements;
    while (rest.length > 0) {
      const batch = rest;
      const outcome = await this.attempt((signal) => this.http.query(batch.join(';\n'), signal, this.config.database));
      if (outcome.kind !== 'ok') {
        // 400 (a statement does not parse: none ran) or 413: halve until the bad one is alone.
        if (batch.length === 1) return this.badDelete(batch[0]!, outcome.message);
        const mid = batch.length >>> 1;
        await this.runDeletes(batch.slice(0, mid));
        await this.runDeletes(batch.slice(mid));
        return;
      }
      const results = (outcome.body as QueryBody | undefined)?.results ?? [];
      let done = 0;
      while (done < batch.length && results[done] !== undefined && results[done]!.error === undefined) done++;
      if (done > 0) this.options.onDeleted?.(done);
      if (done === batch.length) return;
      const failed = batch[done]!;
      rest = batch.slice(done + 1);
      const error = results[done]?.error;
      if (batch.length === 1) this.badDelete(failed, error ?? 'InfluxDB returned no result for it');
      else await this.runDeletes([failed]);
    }
  }

  /** Resolves after `ms`, or at once when the writer closes (the retry loop then sees it closed). */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wait = { timer: setTimeout(() => this.waits.delete(wait) && resolve(), ms), resolve };
      this.waits.add(wait);
    });
  }

  /**
   * One request, retried while InfluxDB is unavailable; resolves with the first outcome that
   * is not a retry. `kind` 'points' (a write or delete of points, the default): a refusal is
   * waited out too when onRefusal is set, and an attempt due while the gate is closed is not
   * sent but rejects with SinkGateClosedError. 'query' (SHOW, CREATE, the tag keys of a
   * delete): neither.
   */
  private async attempt(request: (signal: AbortSignal) => Promise<Attempt>, kind: 'points' | 'query' = 'points'): Promise<Exclude<Attempt, { kind: 'retry' }>> {
    const signal = this.stop.signal;
    const waitOutRefusal = kind === 'points';
    const onRefusal = waitOutRefusal ? this.options.onRefusal : undefined;
    const gate = kind === 'points' ? this.options.gate : undefined;
    for (let attempt = 1; ; attempt++) {
      let outcome: Attempt;
      try {
        const release = await this.slots.acquire();
        // Checked as each request (a retry too) is about to go, not once per flush: a wait
        // for a slot or a retry's backoff can outlast the leases (a processor frozen, cut off
        // from NATS), and its points may belong to partitions another processor now writes.
        if (gate !== undefined && !gate.isOpen()) {
          release();
          throw new SinkGateClosedError();
        }
        const started = performance.now();
        this.options.onRequestStart?.();
        try {
          outcome = await request(signal);
        } catch (err) {
          if (onRefusal === undefined || !(err instanceof SinkRejectedError) || signal.aborted) throw err;
          outcome = { kind: 'retry', error: err, retryAfterMs: undefined };
        } finally {
          release();
        }
        if (outcome.kind !== 'retry') this.options.onRequest?.((performance.now() - started) / 1000);
        if (signal.aborted) throw signal.reason;
        if (outcome.kind !== 'retry') {
          if (waitOutRefusal) this.refused(undefined);
          return outcome;
        }
        const { maxRetries } = this.config;
        if (maxRetries !== undefined && attempt > maxRetries) throw outcome.error;
        const delay = outcome.retryAfterMs ?? this.backoff(attempt);
        if (outcome.error instanceof SinkRejectedError) this.refused(outcome.error);
        else this.options.onRetry?.(outcome.error, attempt, delay);
        // The slot is released while waiting: other batches may find InfluxDB back first.
        await this.wait(delay);
      } catch (err) {
        if (signal.aborted) throw new SinkClosedError();
        throw err;
      }
    }
  }

  /** Reports a refusal when it starts or its reason changes, and its end. */
  private refused(error: SinkRejectedError | undefined): void {
    if (error?.message === this.refusal) return;
    this.refusal = error?.message;
    this.options.onRefusal?.(error);
  }

  /** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.config.maxRetryDelay, this.minRetryDelay * 2 ** Math.min(attempt - 1, 30));
    return Math.round(Math.random() * ceiling);
  }
}
