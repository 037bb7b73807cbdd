import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** Which field of a verified client certificate names the device (`mqtt.tls.identity`). */
export type CertificateIdentityField = 'cn' | 'san';

/** The TLS socket under streams that hide it (a secure WebSocket's stream wraps it). */
const tlsSockets = new WeakMap<Duplex, TLSSocket>();

/** Records the TLS socket a connection's stream runs over, for transports whose stream does not say. */
export function rememberTlsSocket(stream: Duplex, socket: TLSSocket): void {
  tlsSockets.set(stream, socket);
}

/**
 * The device id a connection's client certificate vouches for, or undefined when it has
 * none. Only a certificate the TLS layer verified against `mqtt.tls.ca` counts
 * (`authorized`): a self-signed one with the right CN names nobody. `cn`: the subject's
 * common name (mosquitto's `use_identity_as_username`); `san`: the first DNS name of the
 * subjectAltName, for CAs that leave the CN empty or generic.
 */
export function certificateIdentityOf(stream: Duplex, field: CertificateIdentityField): string | undefined {
  const socket = tlsSockets.get(stream) ?? (isTlsSocket(stream) ? stream : undefined);
  if (socket === undefined || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return undefined;
  if (field === 'cn') {
    const cn = cert.subject?.CN as string | string[] | undefined;
    // A subject with several CNs is ambiguous about who it is: it names nobody.
    return typeof cn === 'string' && cn !== '' ? cn : undefined;
  }
  const dns = (cert.subjectaltname ?? '').split(', ').find((name) => name.startsWith('DNS:'));
  return dns === undefined ? undefined : dns.slice('DNS:'.length);
}

function isTlsSocket(stream: Duplex): stream is TLSSocket {
  return (stream as Partial<TLSSocket>).encrypted === true;
}
