export { authConfigSchema, aclConfigSchema, type AuthConfig, type AclConfig } from './config.js';
export { canonicalTags, isValidDeviceId, type DeviceIdentity, type DeviceRole } from './identity.js';
export { DeviceRegistry, type DeviceRegistryOptions, type NewDevice } from './device-registry.js';
export { createAuthenticator, type Authenticator, type AuthenticatorOptions, type AuthLogger } from './authenticator.js';
export { AclRules, DEFAULT_ACL, SERVICE_ACL } from './acl.js';
