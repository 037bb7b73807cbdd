/**
 * A fake InfluxDB for tests that need one: an HTTP server on a free port that records every
 * request and answers what the test says. Only where the real one cannot do (influxd 1.6 in
 * the harness has no /api/v2) or cannot be made to (a given answer at a given moment).
 */
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';

export interface Captured {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The body as text, gunzipped when it came with Content-Encoding: gzip. */
  body: string;
  /** Bytes on the wire (before gunzip). */
  bytes: number;
  /** performance.now() when the body had arrived. */
  at: number;
  /** The status the server answered. */
  status?: number;
}

export type Reply = { status: number; headers?: Record<string, string>; body?: string };

export interface CaptureServer {
  url: string;
  /** Every request, in arrival order. */
  captured: Captured[];
  /** How to answer; default 204 with no body. */
  respond: (req: Captured) => Reply | Promise<Reply>;
  close(): Promise<void>;
}

/** Starts a capture server on 127.0.0.1, port 0; over https with `tls` (PEM certificate and key). */
export async function startCaptureServer(options: { tls?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<CaptureServer> {
  const captured: Captured[] = [];
  const handler: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const at = performance.now();
      const parsed = new URL(req.url!, 'http://x');
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString();
      const entry: Captured = { path: parsed.pathname, query: parsed.searchParams, headers: req.headers, body, bytes: raw.length, at };
      captured.push(entry);
      const reply = await capture.respond(entry);
      entry.status = reply.status;
      res.writeHead(reply.status, { ...(reply.body ? { 'content-type': 'application/json' } : {}), ...reply.headers });
      res.end(reply.body);
    });
  };
  const server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const capture: CaptureServer = {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    captured,
    respond: () => ({ status: 204 }),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return capture;
}
