export { simulationOptionsSchema, SHAPES, type Shape, type SimulationOptions, type SimulationOptionsInput } from './options.js';
export { FleetPlan, MALFORMED_KINDS, METRIC_NAMES, type MalformedKind, type PlannedMessage } from './fleet-plan.js';
export { encodeMessage } from './payloads.js';
export { runSimulation, type ExpectedModel, type SimulationHooks, type SimulationProgress } from './simulation.js';
export { progressLine, progressWriter, summaryText } from './progress-line.js';
export { REPORT_VERSION, type ExpectedPoint, type ExpectedResult, type SimulationReport } from './report.js';
export { ConnectRefusedError } from './device-connection.js';
export { enrolFleet, secretsFileOf } from './registry-fleet.js';
