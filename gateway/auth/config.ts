import { z } from 'zod';

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
