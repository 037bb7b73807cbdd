export { SCENARIOS, SCENARIO_NAMES, PASS_CRITERIA, TARGETS, benchOptionsSchema, type BenchOptions, type BenchOptionsInput, type Scenario, type ScenarioName } from './options.js';
export { runBench, targets, BENCH_REPORT_VERSION, type BenchReport, type BenchHooks, type ScenarioResult, type TargetResult } from './run-bench.js';
export { runRamp, nextRate, roundRate, NOISY_CORES, type RampResult } from './ramp.js';
export { runStep, warmUp, judge, catchUpLimitMs, type StepResult } from './step.js';
export { startBareAedes, startSluiceProcess, metricSum, histogramBuckets, bucketQuantile, type BrokerProcess, type BrokerSample, type SluiceProcessOptions } from './broker-process.js';
export { benchChartSvg, shortNumber } from './chart.js';
export { benchMarkdown, criteriaText } from './markdown.js';
export { writeBenchReport } from './write-report.js';
export { machineInfo, type MachineInfo } from './machine.js';
