import { encodeTagSet } from '../../proto/index.js';

/** What a connected client may act as: devices publish their own telemetry, services read the fleet's. */
export type DeviceRole = 'device' | 'service';

/** The authenticated identity of an MQTT client, as the ACL and the pipeline see it. */
export interface DeviceIdentity {
  /** The device id: the MQTT username, and (for devices) the client id. */
  readonly id: string;
  readonly role: DeviceRole;
  /** Static tags from the registry (site, model, …), written to InfluxDB with every point. */
  readonly tags: Readonly<Record<string, string>>;
  /** `canonicalTags(tags)`: a stable string key for the tag set, '' when there are none. */
  readonly tagString: string;
}

/**
 * Device ids become a topic level and an InfluxDB tag, so they are restricted to characters
 * that are neither MQTT topic separators nor wildcards ('/', '+', '#') nor need escaping.
 */
const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** True when `id` is 1–128 characters of [A-Za-z0-9._:-]. */
export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

/** What a valid device id looks like, for error messages. */
export const DEVICE_ID_RULE = '1–128 characters of A-Z a-z 0-9 . _ : -';

/** The canonical tag set (proto's encodeTagSet): `k=v,k2=v2`, sorted by key, '' when there are none. */
export const canonicalTags = encodeTagSet;

/** Builds a frozen identity, computing its tag string once. */
export function createIdentity(id: string, role: DeviceRole, tags: Readonly<Record<string, string>> = {}): DeviceIdentity {
  const copy = Object.freeze({ ...tags });
  return Object.freeze({ id, role, tags: copy, tagString: canonicalTags(copy) });
}
