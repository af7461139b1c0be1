/**
 * radml's numeric engine (owned by engine/): typed layer graphs, their compilation to ONNX
 * (inference export with BatchNorm folded; training graphs with reverse-mode gradients; input
 * gradients), ORT sessions, optimizers, LR schedules, parameter serialisation and ONNX import.
 * The interface is agreed in notes/engine-api.md.
 */
export type { NamedTensor, ParamSet, LayerGraph, LayerNode, LayerOp, ParamSpec, BufferSpec } from './graph.js';
export { GraphBuilder, validateGraph, layerNodeSchema } from './graph.js';
export type { ArchSpec, ArchIO } from './architectures.js';
export { buildArchitecture, initParameters } from './architectures.js';
export type { LossSpec } from './losses.js';
export type { TrainingGraph, InputGradientObjective } from './compile.js';
export type { CompileOptions, CompiledGraph } from './compile.js';
export { compileTrainingGraph, compileInputGradientGraph, compileGraph, checkParams } from './compile.js';
export type { StepInputs, StepOutputs, BatchStat, InputGradientOutputs } from './session.js';
export { GradientSession, InputGradientSession, dropoutMasks } from './session.js';
export type { ExportOptions } from './inference.js';
export { exportInferenceModel, foldBatchNorm, InferenceModel } from './inference.js';
export type { OptimizerSpec, Optimizer, ScheduleSpec } from './optim.js';
export { createOptimizer, learningRate, updateRunningStats } from './optim.js';
export { serializeParams, deserializeParams } from './serialize.js';
export type { ImportedModel } from './import-onnx.js';
export { importOnnx } from './import-onnx.js';
