/** One HTTP request to InfluxDB's write, query or delete API, and what its answer means for the caller. */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { HttpError, InfluxDB, type Transport } from '@influxdata/influxdb-client';
import type { InfluxConfig } from './config.js';
import { SinkRejectedError, SinkTlsError, SinkUnavailableError } from './errors.js';

/** How one request ended: written, worth retrying, or refused for its content. */
export type Attempt =
  | { kind: 'ok'; body: unknown }
  | { kind: 'retry'; error: SinkUnavailableError; retryAfterMs: number | undefined }
  /** 413: the body is over InfluxDB's max-body-size. */
  | { kind: 'tooLarge'; message: string }
  /** 400 (unparsable line, field type conflict; a statement or delete predicate that does not parse) or 422 (v2: outside retention): some point is bad. */
  | { kind: 'badPoints'; message: string };

export type InfluxHttpConfig = Pick<InfluxConfig, 'url' | 'version' | 'database' | 'retentionPolicy' | 'username' | 'password' | 'bucket' | 'org' | 'token' | 'timeout' | 'maxInflightRequests'> &
  Partial<Pick<InfluxConfig, 'contentEncoding' | 'tls'>>;

/**
 * Both versions go through the client's node transport (node:http underneath): v1's /write
 * is plain HTTP the transport handles as well as v2's, and one code path keeps timeouts,
 * keep-alive, abort and error parsing the same. The client's WriteApi is not used: it owns
 * its own retry buffer and cannot tell us when one particular batch is durable.
 */
export class InfluxHttp {
  private readonly transport: Transport;
  private readonly agent: HttpAgent;
  private readonly writePath: string;
  /** v2 only: /api/v2/delete with org and bucket. */
  private readonly deletePath: string = '';
  private readonly headers: Record<string, string> = {};
  /** v1: the write path of each retention policy other than influx.retentionPolicy written to so far. */
  private readonly rpWritePaths = new Map<string, string>();

  constructor(private readonly config: InfluxHttpConfig) {
    // Keep-alive: a processor writes every second; a new TCP (and TLS) handshake each time is waste.
    const keepAlive = { keepAlive: true, maxSockets: config.maxInflightRequests };
    this.agent = config.url.startsWith('https:') ? new HttpsAgent({ ...keepAlive, ...tlsOptions(config.tls) }) : new HttpAgent(keepAlive);
    const token = config.version === 2 ? config.token : undefined;
    this.transport = new InfluxDB({ url: config.url, token, timeout: config.timeout, transportOptions: { agent: this.agent } }).transport;
    if (config.version === 2) {
      const query = new URLSearchParams({ org: config.org!, bucket: config.bucket!, precision: 'ms' });
      this.writePath = `/api/v2/write?${query}`;
      this.deletePath = `/api/v2/delete?${new URLSearchParams({ org: config.org!, bucket: config.bucket! })}`;
    } else {
      this.writePath = this.v1WritePath(config.retentionPolicy);
      if (config.username !== undefined) {
        this.headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
      }
    }
  }

  /**
   * POSTs line protocol once; throws SinkRejectedError when no retry can help. With
   * influx.contentEncoding gzip every non-empty body is gzipped, as Telegraf does (the
   * client's gzipThreshold, zlib's default level; an empty body, config check's write probe,
   * is sent as is).
   */
  write(body: string, signal: AbortSignal, rp?: string): Promise<Attempt> {
    const headers = { ...this.headers, 'content-type': 'text/plain; charset=utf-8' };
    return this.send(this.writePathOf(rp), body, headers, signal, 'POST', this.config.contentEncoding === 'gzip' ? 0 : undefined, rp);
  }

  /** v1: /write to retention policy `rp` (influx.retentionPolicy when undefined). v2 has one path: the config refuses per-output policies there. */
  private writePathOf(rp: string | undefined): string {
    if (rp === undefined || this.config.version === 2) return this.writePath;
    let path = this.rpWritePaths.get(rp);
    if (path === undefined) this.rpWritePaths.set(rp, (path = this.v1WritePath(rp)));
    return path;
  }

  private v1WritePath(rp: string | undefined): string {
    const query = new URLSearchParams({ db: this.config.database, precision: 'ms' });
    if (rp !== undefined) query.set('rp', rp);
    return `/write?${query}`;
  }

  /** GET /ping once (1.x, 2.x and 3.x answer 204 without credentials): is InfluxDB there at all? */
  ping(signal: AbortSignal): Promise<Attempt> {
    return this.send('/ping', '', { ...this.headers }, signal, 'GET');
  }

  /**
   * POSTs InfluxQL (statements separated by `;`) to v1's /query once, on database `db` when
   * given. An ok answer's body is a QueryBody: a statement's own failure is in its result.
   */
  query(influxql: string, signal: AbortSignal, db?: string): Promise<Attempt> {
    const headers = { ...this.headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const form = new URLSearchParams({ q: influxql });
    if (db !== undefined) form.set('db', db);
    return this.send('/query', form.toString(), headers, signal);
  }

  /** v2: POSTs one delete request (a V2DeleteRequest as JSON) to /api/v2/delete once. */
  delete(body: string, signal: AbortSignal): Promise<Attempt> {
    return this.send(this.deletePath, body, { ...this.headers, 'content-type': 'application/json; charset=utf-8' }, signal);
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  /** `rp`: the retention policy a write goes to, when not influx.retentionPolicy (for the message of a refusal). */
  private async send(path: string, body: string, headers: Record<string, string>, signal: AbortSignal, method = 'POST', gzipThreshold?: number, rp?: string): Promise<Attempt> {
    // The transport adds an abort listener to the signal it gets and never removes it; give
    // it a signal per request so the writer's long-lived one does not collect them forever.
    const request = new AbortController();
    const abort = () => request.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    try {
      return { kind: 'ok', body: (await this.transport.request(path, body, { method, headers, signal: request.signal, gzipThreshold })) as unknown };
    } catch (err) {
      const tlsCode = (err as NodeJS.ErrnoException).code;
      if (tlsCode !== undefined && UNTRUSTED_CERTIFICATE.has(tlsCode)) {
        // Not an outage: every retry meets the same certificate until the config changes.
        const fix = this.config.tls?.ca === undefined ? 'set influx.tls.ca to the PEM file of the CA that signed it' : `influx.tls.ca ${this.config.tls.ca} did not sign it: set the right CA`;
        throw new SinkRejectedError(`InfluxDB at ${this.config.url}: its TLS certificate is not trusted (${tlsCode}: ${(err as Error).message}); ${fix} (or influx.tls.insecureSkipVerify: true, for tests only)`, 0, { cause: err });
      }
      if (!(err instanceof HttpError)) {
        // Refused connection, reset, DNS, timeout: InfluxDB is not reachable right now.
        const message = `InfluxDB at ${this.config.url} is unreachable: ${(err as Error).message}`;
        return { kind: 'retry', error: new SinkUnavailableError(message, { cause: err }), retryAfterMs: undefined };
      }
      return this.classify(err, rp);
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  private classify(err: HttpError, rp: string | undefined): Attempt {
    const status = err.statusCode;
    const detail = influxMessage(err);
    if (status === 413) return { kind: 'tooLarge', message: detail };
    if (status === 400 || status === 422) return { kind: 'badPoints', message: detail };
    // 1.x before 1.8 answers a write to a missing retention policy with 500 (1.8: 404): not an
    // outage but something only an operator fixes, like a missing database.
    if (status === 500 && this.config.version === 1 && /retention policy not found/i.test(detail)) throw new SinkRejectedError(this.rejection(404, detail, rp ?? this.config.retentionPolicy), status, { cause: err });
    if (status === 408 || status === 429 || status >= 500) {
      const message = `InfluxDB at ${this.config.url} answered ${status}: ${detail}`;
      const retryAfterMs = status === 429 || status === 503 ? retryAfter(err.headers?.['retry-after']) : undefined;
      return { kind: 'retry', error: new SinkUnavailableError(message, { cause: err, status }), retryAfterMs };
    }
    throw new SinkRejectedError(this.rejection(status, detail, rp ?? this.config.retentionPolicy), status, { cause: err });
  }

  /** Says what to fix for a status that will not change by retrying. */
  private rejection(status: number, detail: string, retentionPolicy: string | undefined): string {
    const { url, version, database, bucket, org, username } = this.config;
    const where = `InfluxDB at ${url} answered ${status} (${detail})`;
    if (status === 401 && version === 1 && username !== undefined) return `${where}: influx.username ${username} or influx.password is wrong; fix them (a user with WRITE on database ${database})`;
    if (status === 401 && version === 1) return `${where}: it needs credentials; set influx.username and influx.password to a user with WRITE on database ${database}`;
    if (status === 401) return `${where}: the token is not valid; set influx.token to an API token with write permission on bucket ${bucket}`;
    if (status === 403 && version === 1) return `${where}: influx.username ${username ?? '(none)'} may not write to database ${database}; as an admin run \`GRANT WRITE ON "${database}" TO "${username ?? '<user>'}"\` (or ALL), or use another user`;
    if (status === 403) return `${where}: influx.token may not write to bucket ${bucket}; give it write permission on the bucket or set another token`;
    if (status === 404 && version === 2) return `${where}: bucket ${bucket} in org ${org} not found (or this is not InfluxDB 2.x); create it with \`influx bucket create --name ${bucket} --org ${org}\`, or fix influx.bucket, influx.org or influx.version`;
    if (status === 404 && /retention policy/i.test(detail)) return `${where}: retention policy ${retentionPolicy} does not exist on database ${database}: create it as an admin (\`CREATE RETENTION POLICY "${retentionPolicy}" ON "${database}" DURATION INF REPLICATION 1\`, or list it in influx.createRetentionPolicies), or fix influx.retentionPolicy and influx.retentionPolicies`;
    if (status === 404) return `${where}: database ${database} does not exist: create it with \`CREATE DATABASE ${database}\` or set influx.database`;
    return `${where}: InfluxDB refuses this request; check the influx.* settings`;
  }
}

/** Node's codes for a server certificate that does not verify (OpenSSL's X509_V_ERR_* names, and the host check). */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Agent options for influx.tls; reads the CA file once, here, so a bad path fails the start with its name. */
function tlsOptions(tls: InfluxConfig['tls'] | undefined): { ca?: Buffer; rejectUnauthorized: boolean } {
  const options: { ca?: Buffer; rejectUnauthorized: boolean } = { rejectUnauthorized: !(tls?.insecureSkipVerify ?? false) };
  if (tls?.ca === undefined) return options;
  try {
    options.ca = readFileSync(tls.ca);
  } catch (err) {
    throw new SinkTlsError(`influx.tls.ca: cannot read ${tls.ca} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); set it to the PEM file of the CA that signed InfluxDB's certificate`, { cause: err });
  }
  return options;
}

/** v1 /query's answer: one result per statement, in order, each with its error or its series. */
export interface QueryBody {
  results?: { statement_id?: number; error?: string; series?: { name?: string; values?: unknown[][] }[] }[];
}

/** InfluxDB's own words: v1 puts them in `error`, v2 in `message`. */
function influxMessage(err: HttpError): string {
  const json = err.json as { error?: unknown; message?: unknown } | undefined;
  const text = json?.error ?? json?.message ?? (err.body || err.statusMessage || `HTTP ${err.statusCode}`);
  return String(text).trim();
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
export function retryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
