export { runLoad, LOAD_BROKERS, LOAD_SCENARIOS, type LoadOptions, type LoadRun, type LoadBroker, type LoadScenario, type LoadHooks } from './run-load.js';
export { loadReport, loadMarkdown, writeLoadReport, type LoadReport, type LoadMedian, type LoadRatio } from './load-report.js';
export { findMosquitto, startMosquitto } from './mosquitto-process.js';
export { LateBursts, describeLate, type LateSummary } from './late-bursts.js';
