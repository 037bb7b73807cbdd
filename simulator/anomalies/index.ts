export { AnomalyPlan, EPISODES_LENGTH_MS, neighbourOf, type EpisodeDevice } from './episodes.js';
export { sendEpisodes } from './send-episodes.js';
