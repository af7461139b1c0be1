/**
 * Federated learning (owned by federated/): radml sites in a Flower federation and in-process
 * simulation.
 *
 *   proto.ts, proto/      Flower's protobuf messages (vendored from the pinned flwr 1.42.0 wheel)
 *   objects.ts            Flower's content-addressed object trees (Message … ArrayChunk, .npy), byte-identical to flwr
 *   fleet-client.ts       the Fleet API over HTTP with signed requests (EC P-384 node key kept per site)
 *   supernode.ts          a SuperNode: register/activate, heartbeats, pull → handle → push, reconnects, clean leave
 *   site.ts               the radml site app answering train / evaluate / query from any ServerApp
 *   local.ts              local training and evaluation on the engine (FedProx proximal term)
 *   arrays.ts             model folder ↔ named float32 arrays, .npz export/import
 *   strategies.ts         FedAvg, FedAdam/FedYogi, FedBN, median, trimmed mean, Krum/multi-Krum
 *   privacy.ts            client-level DP (clipping + Gaussian noise) and the RDP accountant
 *   secure-aggregation.ts pairwise-masked secure aggregation with dropout recovery (simulation)
 *   partition.ts          non-IID partitions (site column, Dirichlet label skew, quantity skew)
 *   simulate.ts           the in-process federation with pooled and local-only baselines
 * The Flower App that drives radml sites with Flower's own strategies is in federated/flower-app/.
 */
export { flwrRoot, msgType } from './proto.js';
export {
  deflateMessage, inflateMessage, deflateRecordDict, float32Array, arrayValues, npyFloat32, readNpy, postOrder, FlowerObjectError, ARRAY_CHUNK_SIZE,
  type FlwrArray, type FlwrRecord, type RecordDict, type Metadata, type ObjectTree, type ConfigValue, type MetricValue,
} from './objects.js';
export { FleetClient, FleetError, FleetUnreachableError, loadOrCreateNodeKey, fleetTimestamp } from './fleet-client.js';
export { runSupernode, type InstructionHandler, type SupernodeEvent, type SupernodeOptions, type SupernodeSummary } from './supernode.js';
export { createSiteApp, type SiteAppOptions } from './site.js';
export { LocalSite, type LocalRoundOptions, type LocalRoundResult, type SiteModelSpec } from './local.js';
export { loadModelWeights, paramsToArrays, arraysToParams, exportArrays, importArrays, readNpz, writeNpz, writeWeightsFolder, PARAMS_FILE, type ModelWeights } from './arrays.js';
export { fedAvg, coordinateMedian, trimmedMean, krum, aggregate, ServerOptimizer, isBatchNorm, type Weights, type ClientUpdate, type AggregationOptions, type AggregationRule } from './strategies.js';
export { epsilonAfter, sampledGaussianRdp, rdpToEpsilon, clipUpdate, privateMean, l2Norm, RDP_ORDERS } from './privacy.js';
export { partitionRows, sampleDirichlet, type PartitionSpec, type Partition } from './partition.js';
export { simulateFederation, saveSimulation, FEDERATION_JSON, type SimulateOptions, type SimulationResult, type RoundRecord, type StrategyName, type PoisonSpec } from './simulate.js';
