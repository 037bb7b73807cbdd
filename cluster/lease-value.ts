/** The value stored under a partition's lease key (`p<partition>` in the leases bucket), and its checked decoding. */
import { LeaseCorruptError } from './errors.js';

export interface LeaseValue {
  /** The member holding the lease. */
  holder: string;
  /** Raised by one at every acquisition (not at renewals): tells one holding of the partition from the next. */
  epoch: number;
  /** The holder's wall clock at the renewal; informative only (observers judge silence by their own clock). */
  renewedAt: number;
}

/** The KV key of `partition`'s lease. */
export function leaseKey(partition: number): string {
  return `p${partition}`;
}

/** The partition a lease key names, or undefined for any other key. */
export function partitionOfKey(key: string): number | undefined {
  const match = /^p(\d+)$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

export function encodeLease(value: LeaseValue): string {
  return JSON.stringify(value);
}

/** Decodes a lease value; a LeaseCorruptError when it is not one. */
export function decodeLease(key: string, bytes: Uint8Array): LeaseValue {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new LeaseCorruptError(key, 'not JSON');
  }
  const v = value as Partial<LeaseValue>;
  if (typeof v !== 'object' || v === null || typeof v.holder !== 'string' || !Number.isInteger(v.epoch) || typeof v.renewedAt !== 'number') {
    throw new LeaseCorruptError(key, `expected { holder, epoch, renewedAt }, got ${JSON.stringify(value).slice(0, 200)}`);
  }
  return { holder: v.holder, epoch: v.epoch!, renewedAt: v.renewedAt };
}
