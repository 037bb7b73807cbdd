import { AuthRefusedError } from '../../core/index.js';
import type { Authenticator, ConnectContext } from './authenticator.js';
import type { AuthConfig } from './config.js';
import { BAD_CREDENTIALS, certifiedDeviceId, IDENTIFIER_REJECTED, NOT_AUTHORIZED, quote, requireClientIdIsUsername, requireCredentials } from './connect-rules.js';
import type { DeviceRegistry } from './device-registry.js';
import { FailureBackoff } from './failure-backoff.js';
import type { DeviceIdentity } from './identity.js';
import { VerificationGate } from './verification-gate.js';

/**
 * Registry mode: per-device secrets checked with scrypt, with the cost of a wrong-secret
 * storm bounded (issue 10). A client that showed a verified client certificate (mTLS,
 * issue 12) skips all of this: its certificate names the id, which must be registered
 * (`byCertificate`). In order, for a CONNECT with id and password:
 *
 * 1. Unknown id: refused at once (code 4), a Map lookup as before. Not counted against
 *    the address: it costs nothing, so there is nothing to ration.
 * 2. Recently verified password (DeviceRegistry.verifyCached): accepted with one SHA-256.
 *    This comes before the backoff on purpose: someone hammering a device's id with wrong
 *    secrets must not lock the real device out while it holds its (cached) secret.
 * 3. The id or the source address is backing off after failures: refused at once with
 *    code 5 (reason `auth_backoff`), no scrypt.
 * 4. Otherwise scrypt, through the VerificationGate (at most `verify.concurrency` at once,
 *    `verify.maxQueued` waiting, beyond that code 3, reason `auth_busy`). A failure
 *    counts against the id and the address; a success clears the id's count only. The
 *    address's count is not cleared by a success, or one valid credential would let an
 *    attacker reset its address between guesses at other ids; it is forgotten once the
 *    address stays quiet for `backoff.max`.
 */
export function registryAuthenticator(registry: DeviceRegistry, config: AuthConfig): Authenticator {
  const gate = new VerificationGate(config.verify.concurrency, config.verify.maxQueued);
  const policy = { initialMs: config.backoff.initial, maxMs: config.backoff.max, maxKeys: config.backoff.maxTracked };
  const ids = new FailureBackoff({ ...policy, threshold: config.backoff.idFailures });
  const addresses = new FailureBackoff({ ...policy, threshold: config.backoff.addressFailures });

  /** Milliseconds the id or the address must still wait, 0 when a check may run. */
  function backoffMs(id: string, address: string | undefined): number {
    return Math.max(ids.remainingMs(id), address === undefined ? 0 : addresses.remainingMs(address));
  }

  function backingOff(id: string, address: string | undefined, wait: number): AuthRefusedError {
    const seconds = Math.ceil(wait / 1000);
    return new AuthRefusedError(`device ${quote(id)}: too many wrong secrets for this id or from ${address ?? 'this address'}; retry in ${seconds} s`, NOT_AUTHORIZED, 'auth_backoff');
  }

  async function verifySlowly(id: string, secret: Buffer, context: ConnectContext): Promise<DeviceIdentity> {
    const { address } = context;
    const wait = backoffMs(id, address);
    if (wait > 0) throw backingOff(id, address, wait);
    const outcome = await gate.run(async () => {
      // Asked again when the slot comes: CONNECTs queued behind the first failures of a
      // storm are refused here without hashing.
      const waitNow = backoffMs(id, address);
      if (waitNow > 0) return { waitNow };
      const identity = await registry.verify(id, secret);
      // Counted before the slot is handed on, so the next queued check already sees it.
      if (identity === undefined) {
        ids.fail(id);
        if (address !== undefined) addresses.fail(address);
      }
      return { identity };
    }, context.connected);
    if (outcome === undefined) throw new AuthRefusedError(`device ${quote(id)} disconnected before its secret was checked`, NOT_AUTHORIZED, 'client_gone');
    if (outcome.waitNow !== undefined) throw backingOff(id, address, outcome.waitNow);
    if (outcome.identity === undefined) throw new AuthRefusedError(`wrong secret for device ${quote(id)}`, BAD_CREDENTIALS);
    ids.succeed(id);
    return outcome.identity;
  }

  async function bySecret(clientId: string, username: string | undefined, password: Buffer | undefined, context: ConnectContext): Promise<DeviceIdentity> {
    const [id, secret] = requireCredentials(clientId, username, password);
    if (registry.get(id) === undefined) throw new AuthRefusedError(`unknown device ${quote(id)}: not in the registry`, BAD_CREDENTIALS);
    return registry.verifyCached(id, secret) ?? (await verifySlowly(id, secret, context));
  }

  /**
   * mTLS in registry mode: the certificate replaces the secret, but the id must still be in
   * the registry, which gives its role and tags, and `devices remove` still shuts it out
   * (Sluice reads no revocation lists: the registry is the revocation list).
   */
  function byCertificate(certificateId: string, username: string | undefined): DeviceIdentity {
    const id = certifiedDeviceId(certificateId, username);
    const identity = registry.get(id);
    if (identity === undefined) throw new AuthRefusedError(`client certificate names device ${quote(id)}, which is not in the registry: add it with "sluice devices add ${id}"`, NOT_AUTHORIZED, 'certificate_unknown');
    return identity;
  }

  return {
    async authenticate(clientId, username, password, context = {}) {
      const identity = context.certificateId === undefined ? await bySecret(clientId, username, password, context) : byCertificate(context.certificateId, username);
      if (identity.role === 'device') requireClientIdIsUsername(clientId, identity.id);
      else requireServiceClientId(registry, clientId, identity.id);
      return identity;
    },
    isCurrent: (identity) => registry.isCurrent(identity),
  };
}

/**
 * Services (dashboards, command senders) may run several clients under one identity, so
 * their client id is free, with one rule (issue 10, defect 9): it may not be the id of
 * another registry entry. A registry id is that device's (or service's) own session: with
 * it a service would take over the session (aedes closes the older connection with the
 * same client id [MQTT-3.1.4-2]) and, with clean session 0, inherit its subscriptions and
 * queued commands. We chose "not another registry id" over "must carry a prefix" because
 * existing service clients use arbitrary ids (mqtt.js' `mqttjs_…`, Grafana's), and
 * registry ids are exactly the sessions a device can own in this mode. A device connected
 * under an id no longer in the registry is covered by the broker hooks, which refuse a
 * service taking over any live device session. The check runs after the secret, so an
 * unauthenticated client cannot probe which ids exist. CONNACK 2: the credentials are
 * fine, the client identifier is not allowed (MQTT 3.1.1 §3.2.2.3).
 */
function requireServiceClientId(registry: DeviceRegistry, clientId: string, serviceId: string): void {
  if (clientId !== serviceId && registry.get(clientId) !== undefined) {
    throw new AuthRefusedError(
      `service ${quote(serviceId)} connected with client id ${quote(clientId)}, which is a registered device's id: use a client id that is not in the registry`,
      IDENTIFIER_REJECTED,
      'client_id_reserved',
    );
  }
}
