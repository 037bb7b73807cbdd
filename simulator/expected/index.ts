export { DEFAULT_QUANTILE_RELATIVE_ACCURACY, ReferenceModel, type ExpectedWindow, type ReceiveTime, type ReferenceModelOptions, type ReferenceTime } from './reference-model.js';
export { exactSum, ExactSum, quantilePair, QUANTILES, windowStats, type WindowStats } from './exact-stats.js';
