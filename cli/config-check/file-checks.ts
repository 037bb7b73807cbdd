/** The files a config names: the ACL, the device registry, TLS certificates and keys. */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AclRules, DeviceRegistry } from '../../gateway/auth/index.js';
import type { SluiceConfig } from '../config-schema.js';
import { fail, pass, skipped, type CheckResult } from './check.js';

/** Checks every file the config names, one result each. */
export async function checkFiles(config: SluiceConfig): Promise<CheckResult[]> {
  return [await checkAcl(config), await checkRegistry(config), ...(await checkMqttTls(config)), ...(await checkClientCa(config)), await checkInfluxCa(config)];
}

/** mqtt.tls.ca: the CA that signs device certificates (mutual TLS), when set. */
async function checkClientCa(config: SluiceConfig): Promise<CheckResult[]> {
  const ca = config.mqtt.tls?.ca;
  if (ca === undefined) return [];
  try {
    return [pass('local', `mqtt.tls.ca ${ca}`, await certificate(ca))];
  } catch (err) {
    return [fail('local', `mqtt.tls.ca ${ca}`, `${fileProblem(err)}; set mqtt.tls.ca to the PEM file of the CA that signs the device certificates`)];
  }
}

async function checkAcl(config: SluiceConfig): Promise<CheckResult> {
  if (config.acl.file === undefined) return pass('local', 'acl.file', 'not set: the built-in device rules apply');
  try {
    await AclRules.load(config.acl.file);
    return pass('local', `acl.file ${config.acl.file}`, 'parses');
  } catch (err) {
    return fail('local', `acl.file ${config.acl.file}`, (err as Error).message);
  }
}

async function checkRegistry(config: SluiceConfig): Promise<CheckResult> {
  const name = `auth.registry ${config.auth.registry}`;
  if (config.auth.mode !== 'registry') return skipped('local', name, `not used (auth.mode is ${config.auth.mode})`);
  try {
    const registry = await DeviceRegistry.load(config.auth.registry);
    return pass('local', name, registry.size === 0 ? 'no devices yet (`sluice devices add <id>` creates the file)' : `${registry.size} device${registry.size === 1 ? '' : 's'}`);
  } catch (err) {
    return fail('local', name, (err as Error).message);
  }
}

/** A certificate file: readable, PEM, within its validity period; `key` (when given) must match it. */
async function certificate(path: string, keyPath?: string): Promise<string> {
  const cert = new X509Certificate(await readFile(path));
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) throw new Error(`certificate ${cert.subject.replace(/\n/g, ', ')} expired on ${cert.validTo}`);
  if (Date.parse(cert.validFrom) > now) throw new Error(`certificate ${cert.subject.replace(/\n/g, ', ')} is not valid before ${cert.validFrom}`);
  if (keyPath !== undefined && !cert.checkPrivateKey(createPrivateKey(await readFile(keyPath)))) throw new Error(`key ${keyPath} does not belong to certificate ${path}`);
  return `${cert.subject.replace(/\n/g, ', ')}, valid until ${cert.validTo}${keyPath === undefined ? '' : ', key matches'}`;
}

/** Node's messages for files name neither the key nor always the path: say both. */
function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES') return `cannot read it (${code})`;
  return (err as Error).message;
}

async function checkMqttTls(config: SluiceConfig): Promise<CheckResult[]> {
  const tls = config.mqtt.tls;
  if (tls === undefined) return [skipped('local', 'mqtt.tls', 'not configured')];
  const results: CheckResult[] = [];
  for (const [key, path] of [['mqtt.tls.cert', tls.cert], ['mqtt.tls.key', tls.key]] as const) {
    try {
      await readFile(path);
    } catch (err) {
      results.push(fail('local', `${key} ${path}`, `${fileProblem(err)}; set ${key} to a PEM file`));
    }
  }
  if (results.length > 0) return results;
  try {
    return [pass('local', `mqtt.tls.cert ${tls.cert}`, await certificate(tls.cert, tls.key))];
  } catch (err) {
    return [fail('local', `mqtt.tls.cert ${tls.cert}`, fileProblem(err))];
  }
}

async function checkInfluxCa(config: SluiceConfig): Promise<CheckResult> {
  const ca = config.influx.tls.ca;
  if (ca === undefined) return skipped('local', 'influx.tls.ca', config.influx.url.startsWith('https:') ? "not set: the system's CAs apply" : 'not used (influx.url is http://)');
  try {
    return pass('local', `influx.tls.ca ${ca}`, await certificate(ca));
  } catch (err) {
    return fail('local', `influx.tls.ca ${ca}`, `${fileProblem(err)}; set influx.tls.ca to the PEM file of the CA that signed InfluxDB's certificate`);
  }
}
