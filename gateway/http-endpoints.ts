import { createServer, type Server } from 'node:http';
import type { HttpConfig } from './config.js';
import { listenOn } from './listen.js';

/** Where /metrics comes from: a prom-client Registry, or several merged. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface HttpEndpoints {
  port: number;
  close(): Promise<void>;
}

/**
 * Why the node is not ready (one line: starting, stopping, which storage refuses writes),
 * or undefined when it is.
 */
export type Readiness = () => string | undefined;

/**
 * Serves /metrics (Prometheus text), /healthz (the process is up) and /readyz (200 while
 * `readiness()` has no objection; else 503 with its reason: before the start, while the
 * storage refuses writes, while shutting down).
 */
export async function startHttpEndpoints(config: HttpConfig, registry: MetricsSource, readiness: Readiness): Promise<HttpEndpoints> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics unavailable: ${err.message}\n`);
        },
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (path === '/readyz') {
      const reason = readiness();
      res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(reason === undefined ? 'ready\n' : `not ready: ${reason}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: try /metrics, /healthz or /readyz\n');
    }
  });
  const port = await listenOn(server, { port: config.port, host: config.host, key: 'http.port' });
  return {
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
