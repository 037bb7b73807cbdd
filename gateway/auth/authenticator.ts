import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthRefusedError, ConfigError } from '../../core/index.js';
import type { AuthConfig } from './config.js';
import type { DeviceRegistry } from './device-registry.js';
import { createIdentity, DEVICE_ID_RULE, isValidDeviceId, type DeviceIdentity } from './identity.js';

/** Decides who an MQTT CONNECT is; the broker's authenticate hook calls it. */
export interface Authenticator {
  /** The client's identity, or AuthRefusedError carrying the CONNACK return code to send. */
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<DeviceIdentity>;
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

// MQTT 3.1.1 §3.2.2.3, Table 3.1: CONNACK return codes.
const BAD_CREDENTIALS = 4; // "Connection Refused, bad user name or password"
const NOT_AUTHORIZED = 5; // "Connection Refused, not authorized"

/** Quotes an untrusted name for a log message, cut short so a huge username cannot flood logs. */
function quote(name: string): string {
  return JSON.stringify(name.length > 128 ? `${name.slice(0, 128)}…` : name);
}

/**
 * Username and password, or code 4. MQTT 3.1.1 makes both optional (§3.1.2.8, §3.1.2.9);
 * outside anonymous mode we do not.
 */
function requireCredentials(clientId: string, username: string | undefined, password: Buffer | undefined): [string, Buffer] {
  if (username === undefined || username === '') {
    throw new AuthRefusedError(`client ${quote(clientId)} sent no username; every client must authenticate`, BAD_CREDENTIALS);
  }
  if (password === undefined) {
    throw new AuthRefusedError(`client ${quote(clientId)} (username ${quote(username)}) sent no password`, BAD_CREDENTIALS);
  }
  return [username, password];
}

/** Devices are their client id; letting them differ would let one device take over another's session. */
function requireClientIdIsUsername(clientId: string, username: string): void {
  if (clientId !== username) {
    throw new AuthRefusedError(`device ${quote(username)} connected with client id ${quote(clientId)}: the client id must equal the username`, NOT_AUTHORIZED);
  }
}

function registryAuthenticator(registry: DeviceRegistry): Authenticator {
  return {
    async authenticate(clientId, username, password) {
      const [id, secret] = requireCredentials(clientId, username, password);
      if (registry.get(id) === undefined) throw new AuthRefusedError(`unknown device ${quote(id)}: not in the registry`, BAD_CREDENTIALS);
      const identity = await registry.verify(id, secret);
      if (identity === undefined) throw new AuthRefusedError(`wrong secret for device ${quote(id)}`, BAD_CREDENTIALS);
      // Services (dashboards, command senders) may run several clients under one identity.
      if (identity.role === 'device') requireClientIdIsUsername(clientId, id);
      return identity;
    },
  };
}

function tokenAuthenticator(fleetKey: string): Authenticator {
  return {
    async authenticate(clientId, username, password) {
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
  };
}

function anonymousAuthenticator(logger: AuthLogger | undefined): Authenticator {
  logger?.warn({ authMode: 'anonymous' }, 'anonymous mode: any client may connect; development only');
  return {
    async authenticate(clientId, username) {
      return createIdentity(username ?? clientId, 'device');
    },
  };
}

/** Builds the authenticator for `config.mode`; throws ConfigError when the mode's inputs are missing. */
export function createAuthenticator(config: AuthConfig, options: AuthenticatorOptions = {}): Authenticator {
  switch (config.mode) {
    case 'registry':
      if (options.registry === undefined) {
        throw new ConfigError(`auth.mode is 'registry' but no registry was given: load DeviceRegistry.load(auth.registry) (${config.registry}) first`);
      }
      return registryAuthenticator(options.registry);
    case 'token':
      if (config.fleetKey === undefined || config.fleetKey.length < 16) {
        throw new ConfigError("auth.mode is 'token' but auth.fleetKey is missing or shorter than 16 characters: set auth.fleetKey or SLUICE_AUTH_FLEET_KEY");
      }
      return tokenAuthenticator(config.fleetKey);
    case 'anonymous':
      return anonymousAuthenticator(options.logger);
  }
}
