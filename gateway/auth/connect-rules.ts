import { AuthRefusedError } from '../../core/index.js';
import { DEVICE_ID_RULE, isValidDeviceId } from './identity.js';

// MQTT 3.1.1 §3.2.2.3, Table 3.1: CONNACK return codes.
export const IDENTIFIER_REJECTED = 2; // "Connection Refused, identifier rejected"
export const BAD_CREDENTIALS = 4; // "Connection Refused, bad user name or password"
export const NOT_AUTHORIZED = 5; // "Connection Refused, not authorized"

/** Quotes an untrusted name for a log message, cut short so a huge username cannot flood logs. */
export function quote(name: string): string {
  return JSON.stringify(name.length > 128 ? `${name.slice(0, 128)}…` : name);
}

/**
 * Username and password, or code 4. MQTT 3.1.1 makes both optional (§3.1.2.8, §3.1.2.9);
 * outside anonymous mode we do not.
 */
export function requireCredentials(clientId: string, username: string | undefined, password: Buffer | undefined): [string, Buffer] {
  if (username === undefined || username === '') {
    throw new AuthRefusedError(`client ${quote(clientId)} sent no username; every client must authenticate`, BAD_CREDENTIALS);
  }
  if (password === undefined) {
    throw new AuthRefusedError(`client ${quote(clientId)} (username ${quote(username)}) sent no password`, BAD_CREDENTIALS);
  }
  return [username, password];
}

/** Devices are their client id; letting them differ would let one device take over another's session. */
export function requireClientIdIsUsername(clientId: string, username: string): void {
  if (clientId !== username) {
    throw new AuthRefusedError(`device ${quote(username)} connected with client id ${quote(clientId)}: the client id must equal the username`, NOT_AUTHORIZED);
  }
}

/**
 * The device id of a client that showed a verified client certificate (mTLS): the
 * certificate is its credential, and the password is not asked for. A username, when
 * sent, must be that id: a client may not show one device's certificate and claim to be
 * another. Code 5 (not authorized) either way: the certificate was fine, the claim is not.
 */
export function certifiedDeviceId(certificateId: string, username: string | undefined): string {
  if (!isValidDeviceId(certificateId)) {
    throw new AuthRefusedError(`client certificate names ${quote(certificateId)}, which is not a valid device id (${DEVICE_ID_RULE}): issue it with the device id as its identity`, NOT_AUTHORIZED, 'certificate_identity');
  }
  if (username !== undefined && username !== '' && username !== certificateId) {
    throw new AuthRefusedError(`client certificate names device ${quote(certificateId)} but the username is ${quote(username)}: leave the username empty or set it to the certificate's id`, NOT_AUTHORIZED, 'certificate_mismatch');
  }
  return certificateId;
}
