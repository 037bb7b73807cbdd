import { readFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { ConfigError, ListenFailedError, PortInUseError } from '../core/index.js';

/** Where a listener binds, and the config key that chose its port (for the error message). */
export interface ListenAt {
  port: number;
  host: string;
  key: string;
}

/** Binds `server`; resolves with the bound port. A failed bind names the config key, the value and what to do. */
export function listenOn(server: Server | HttpServer, at: ListenAt): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(err, at));
    server.once('error', onError);
    server.listen(at.port, at.host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function listenError(err: NodeJS.ErrnoException, at: ListenAt): Error {
  const where = `${at.key} ${at.port}: ${at.host}:${at.port}`;
  if (err.code === 'EADDRINUSE') return new PortInUseError(at.key, `${where} is already in use; stop what holds it or set another ${at.key} (0 = any free port)`, { cause: err });
  if (err.code === 'EACCES') return new ListenFailedError(at.key, `${where} needs privileges this process does not have (ports below 1024); set ${at.key} to 1024 or above`, { cause: err });
  if (err.code === 'EADDRNOTAVAIL') return new ListenFailedError(at.key, `${where}: ${at.host} is not an address of this host; fix the host setting next to ${at.key}`, { cause: err });
  return err;
}

/** Reads a file a config key names (a PEM certificate, a key); a missing or unreadable file is a config error naming the key. */
export async function readConfiguredFile(key: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${key}: cannot read "${path}" (${code}); give the path of a readable PEM file`, { cause: err });
  }
}
