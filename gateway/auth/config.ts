import { z } from 'zod';
import { duration } from '../../core/duration.js';

/** Where a token-mode deployment sets the fleet key; named in every error about it. */
const FLEET_KEY_HINT = 'set auth.fleetKey (or SLUICE_AUTH_FLEET_KEY) to a random string of at least 16 characters';

/** The `auth` section of the config file: how devices prove who they are. */
export const authConfigSchema = z
  .strictObject({
    /**
     * Default `registry`. `registry`: per-device secrets in the registry file;
     * `token`: stateless, password = hex HMAC-SHA256(fleetKey, device id), for large fleets;
     * `anonymous`: everyone connects, development only.
     */
    mode: z.enum(['registry', 'token', 'anonymous']).default('registry'),
    /** Default `./devices.json`; the caller resolves it (against the config file or cwd). */
    registry: z.string().min(1, 'expected a file path').default('./devices.json'),
    /**
     * No default. Required in token mode. Checked for length whatever the mode, because a
     * short key that is configured at all is a mistake waiting for the day token mode is on.
     */
    fleetKey: z.string().min(16, `auth.fleetKey is too short: ${FLEET_KEY_HINT}`).optional(),
    /** Registry mode: how many scrypt checks run at once and wait (see VerificationGate). */
    verify: z
      .strictObject({
        /**
         * Default 2: scrypt checks running at once. They run in libuv's threadpool (4 threads
         * unless UV_THREADPOOL_SIZE is set), which the log's fs writes share; keep this below
         * the pool size so a CONNECT storm cannot hold every thread.
         */
        concurrency: z.number().int().min(1).max(64).default(2),
        /** Default 256: checks waiting for a slot; beyond, CONNACK 3 (server unavailable), reason `auth_busy`. */
        maxQueued: z.number().int().min(0).default(256),
      })
      .prefault({}),
    /**
     * Registry mode: backoff after wrong secrets, per device id and per source address.
     * While backing off, a CONNECT is refused with CONNACK 5 (reason `auth_backoff`) without
     * running scrypt, unless its password is in the cache of recent successful checks.
     */
    backoff: z
      .strictObject({
        /** Default `1s`: the first backoff; it doubles with each further failure. */
        initial: duration('1s'),
        /** Default `60s`: the longest backoff; a key quiet this long after it is forgotten. */
        max: duration('60s'),
        /** Default 1: wrong secrets in a row for one device id before it backs off. */
        idFailures: z.number().int().min(1).default(1),
        /**
         * Default 10: failed checks in a row from one source address before it backs off.
         * Higher than per id because many devices can share an address (NAT).
         */
        addressFailures: z.number().int().min(1).default(10),
        /** Default 100000: ids and addresses remembered each, least recently failed forgotten first. */
        maxTracked: z.number().int().min(1).default(100_000),
      })
      .prefault({}),
    /** Registry mode: recent successful checks, so a reconnecting device skips scrypt. */
    cache: z
      .strictObject({
        /** Default 100000 devices; 0 turns the cache off. */
        size: z.number().int().min(0).default(100_000),
        /** Default `1h`: how long a successful check is trusted. */
        ttl: duration('1h'),
      })
      .prefault({}),
    /**
     * Run-time changes to `auth.registry` and `acl.file`: a change is applied without a
     * restart (SIGHUP forces a reload whatever this says). A removed device, or one whose
     * secret, role or tags changed, is disconnected; a file that does not load keeps the
     * rules in force and is logged and counted (`sluice_config_reload_total{file,result}`).
     */
    reload: z
      .strictObject({
        /** Default true: watch both files' directories and reload a file when it changes. */
        watch: z.boolean().default(true),
        /** Default `100ms`: quiet time after the last change event before the file is read (editors write in steps). */
        debounce: duration('100ms'),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.mode === 'token' && config.fleetKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['fleetKey'], message: `auth.mode is 'token' but no fleet key is set: ${FLEET_KEY_HINT}` });
    }
  });

/** The `acl` section of the config file: who may publish and subscribe where. */
export const aclConfigSchema = z.strictObject({
  /** No default: without a file the built-in device rules apply (`AclRules.defaults()`). */
  file: z.string().min(1, 'expected a file path').optional(),
});

/** Validated `auth` config, defaults applied. */
export type AuthConfig = z.output<typeof authConfigSchema>;
/** Validated `acl` config. */
export type AclConfig = z.output<typeof aclConfigSchema>;
