/**
 * Reaches NATS as a distributed-mode process would (log.kind: jetstream): connects to
 * nats.servers with the configured credentials and TLS, asks for the account's JetStream
 * info (JetStream enabled, and this account may use it), and looks for the stream: there
 * with the configured replicas, or not there yet (the first process creates it).
 * Changes nothing. Stops at the first failure.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsConnectionOptions, type JetStreamLogConfig } from '../../log/index.js';
import { fail, pass, type CheckResult } from './check.js';

export async function checkNats(config: JetStreamLogConfig): Promise<CheckResult[]> {
  const name = `NATS ${config.servers.join(', ')}`;
  let nc;
  try {
    nc = await connect({ ...natsConnectionOptions(config), name: 'sluice-config-check', maxReconnectAttempts: 0, timeout: 5_000 });
  } catch (err) {
    return [fail('external', name, `cannot connect (${(err as Error).message}): check nats.servers, the credentials and nats.tls, and that nats-server runs`)];
  }
  const results: CheckResult[] = [pass('external', name, `connected to ${nc.info?.server_name ?? nc.getServer()} (nats-server ${nc.info?.version ?? '?'})`)];
  try {
    const jsm = await jetstreamManager(nc).catch((err: unknown) => {
      throw new Error(`JetStream does not answer (${(err as Error).message}): start nats-server with -js (and a store dir)`);
    });
    results.push(pass('external', 'NATS JetStream', 'enabled for this account'));
    const stream = `NATS stream ${config.stream}`;
    const info = await jsm.streams.info(config.stream).catch((err: unknown) => {
      if (/stream not found/i.test((err as Error).message)) return undefined;
      throw err;
    });
    if (info === undefined) results.push(pass('external', stream, 'not there yet; the first gateway or processor creates it'));
    else if (info.config.num_replicas !== config.replicas) results.push(fail('external', stream, `has ${info.config.num_replicas} replicas but nats.replicas is ${config.replicas}: set nats.replicas to ${info.config.num_replicas}, or change the stream's replicas with the nats CLI`));
    else results.push(pass('external', stream, `exists with ${info.config.num_replicas} replica(s), ${info.state.messages} frames`));
  } catch (err) {
    results.push(fail('external', 'NATS JetStream', (err as Error).message));
  } finally {
    await nc.close().catch(() => undefined);
  }
  return results;
}
