import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthRefusedError, ConfigError } from '../../core/index.js';
import type { AuthConfig } from './config.js';
import type { DeviceRegistry } from './device-registry.js';
import { BAD_CREDENTIALS, certifiedDeviceId, quote, requireClientIdIsUsername, requireCredentials } from './connect-rules.js';
import { createIdentity, DEVICE_ID_RULE, isValidDeviceId, type DeviceIdentity } from './identity.js';
import { registryAuthenticator } from './registry-authenticator.js';

/** Where a CONNECT comes from, as far as the transport says. */
export interface ConnectContext {
  /** The peer's IP address; undefined when the transport does not give one. */
  readonly address?: string;
  /** False once the client has gone away; a check still queued for it is then skipped. */
  readonly connected?: () => boolean;
  /** The device id a verified client certificate names (mTLS); when set, it is the credential. */
  readonly certificateId?: string;
}

/** Decides who an MQTT CONNECT is; the broker's authenticate hook calls it. */
export interface Authenticator {
  /**
   * The client's identity, or AuthRefusedError (AuthBusyError when overloaded) carrying the
   * CONNACK return code to send and the reason to count.
   */
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined, context?: ConnectContext): Promise<DeviceIdentity>;
  /**
   * False once an identity this authenticator gave out no longer stands (registry mode: the
   * device was removed, or its secret, role or tags changed): its connection is closed.
   */
  isCurrent(identity: DeviceIdentity): boolean;
}

/** The part of a logger the authenticator uses (pino's Logger fits). */
export interface AuthLogger {
  warn(obj: object, msg: string): void;
}

/** What `createAuthenticator` needs besides the config. */
export interface AuthenticatorOptions {
  /** Required in registry mode: the loaded `auth.registry` file. */
  registry?: DeviceRegistry;
  logger?: AuthLogger;
}

function tokenAuthenticator(fleetKey: string): Authenticator {
  return {
    async authenticate(clientId, username, password, context = {}) {
      if (context.certificateId !== undefined) {
        const id = certifiedDeviceId(context.certificateId, username);
        requireClientIdIsUsername(clientId, id);
        return createIdentity(id, 'device');
      }
      const [id, token] = requireCredentials(clientId, username, password);
      // The token would vouch for any string, but ids become topic levels: keep them plain.
      if (!isValidDeviceId(id)) throw new AuthRefusedError(`username ${quote(id)} is not a valid device id (${DEVICE_ID_RULE})`, BAD_CREDENTIALS);
      const expected = Buffer.from(createHmac('sha256', fleetKey).update(id, 'utf8').digest('hex'), 'ascii');
      // timingSafeEqual needs equal lengths; the length of a valid token is public anyway.
      if (token.length !== expected.length || !timingSafeEqual(token, expected)) {
        throw new AuthRefusedError(`wrong token for device ${quote(id)}`, BAD_CREDENTIALS);
      }
      requireClientIdIsUsername(clientId, id);
      return createIdentity(id, 'device');
    },
    isCurrent: () => true,
  };
}

function anonymousAuthenticator(logger: AuthLogger | undefined): Authenticator {
  logger?.warn({ authMode: 'anonymous' }, 'anonymous mode: any client may connect; development only');
  return {
    async authenticate(clientId, username, _password, context = {}) {
      if (context.certificateId !== undefined) return createIdentity(certifiedDeviceId(context.certificateId, username), 'device');
      return createIdentity(username ?? clientId, 'device');
    },
    isCurrent: () => true,
  };
}

/** Builds the authenticator for `config.mode`; throws ConfigError when the mode's inputs are missing. */
export function createAuthenticator(config: AuthConfig, options: AuthenticatorOptions = {}): Authenticator {
  switch (config.mode) {
    case 'registry':
      if (options.registry === undefined) {
        throw new ConfigError(`auth.mode is 'registry' but no registry was given: load DeviceRegistry.load(auth.registry) (${config.registry}) first`);
      }
      return registryAuthenticator(options.registry, config);
    case 'token':
      if (config.fleetKey === undefined || config.fleetKey.length < 16) {
        throw new ConfigError("auth.mode is 'token' but auth.fleetKey is missing or shorter than 16 characters: set auth.fleetKey or SLUICE_AUTH_FLEET_KEY");
      }
      return tokenAuthenticator(config.fleetKey);
    case 'anonymous':
      return anonymousAuthenticator(options.logger);
  }
}
