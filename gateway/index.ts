export { startGateway, type Gateway, type GatewayDeps } from './gateway.js';
export { gatewayConfigShape, type GatewayConfig } from './config.js';
export { startHttpEndpoints, type HttpEndpoints, type Readiness } from './http-endpoints.js';
export { readDeadLetters, type DeadLetter } from './dead-letters.js';
export { DeviceRegistry, canonicalTags } from './auth/index.js';
