export { EdgeNodes, type EdgeNodesOptions, type RebirthReason } from './edge-nodes.js';
export { encodeRebirthRequest, ncmdTopic } from './rebirth.js';
export { parseSparkplugTopic, SPARKPLUG_NAMESPACE, type SparkplugMessageType, type SparkplugTopic } from './topic.js';
