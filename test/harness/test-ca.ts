import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of one certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
  /** The PEM text, for clients that take it inline. */
  pem: { cert: Buffer; key: Buffer };
}

/** A throwaway CA made with openssl in `dir`, and certificates it signs. */
export interface TestCa {
  ca: string;
  caPem: Buffer;
  /** A certificate signed by the CA: subject CN and optional subjectAltName (e.g. `IP:127.0.0.1`, `DNS:dev-1`). */
  issue(name: string, cn: string, san?: string): Promise<CertFiles>;
  /** A self-signed certificate that no CA vouches for. */
  selfSigned(name: string, cn: string): Promise<CertFiles>;
}

async function files(dir: string, name: string): Promise<CertFiles> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  return { cert, key, pem: { cert: await readFile(cert), key: await readFile(key) } };
}

export async function createTestCa(dir: string): Promise<TestCa> {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-subj', '/CN=sluice-test-ca', '-days', '1']);
  return {
    ca,
    caPem: await readFile(ca),
    async issue(name, cn, san) {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
      const ext = join(dir, `${name}.ext`);
      await writeFile(ext, san === undefined ? '' : `subjectAltName=${san}\n`);
      await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', join(dir, `${name}.pem`), '-days', '1', '-extfile', ext]);
      return files(dir, name);
    },
    async selfSigned(name, cn) {
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-subj', `/CN=${cn}`, '-days', '1']);
      return files(dir, name);
    },
  };
}
