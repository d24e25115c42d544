/**
 * rmsprop-native: MindSpore's RMSProp optimizer for Node.js, with SIMD kernels.
 * @packageDocumentation
 */
export { ValueError } from './base/errors';
export { Tensor, Parameter } from './base/tensor';
export type { DType, FloatArray, TensorData, ParameterOptions } from './base/tensor';
export { LearningRateSchedule } from './schedules/learning-rate';
export type { LearningRate, LearningRateFunction, WeightDecay } from './schedules/learning-rate';
export type { RMSPropOptions, Device, ParameterSync, Flavor, EpsilonPlacement, WeightDecayMode, DecayComplement } from './config/options';
export type { StateFormat } from './state/formats';
export { RMSProp, type DeviceBuffers } from './rmsprop';
import './distributed/optimizer'; // registers the data-parallel optimizer with RMSProp's constructor
export * as distributed from './distributed';
export type { DataParallelRMSProp } from './distributed/optimizer';
export { DynamicLossScaler, type DynamicLossScalerOptions } from './schedules/loss-scale';
export { simdLevel, numThreads, setNumThreads } from './config/settings';
export { cudaAvailable } from './native/cuda';
export type { SharedRMSProp, SharedParameter, SharedStepValue } from './state/sharing';
export type { Gradient } from './rmsprop';
export type { ParameterState } from './state/state';
export type { SimdLevel } from './native/native';
export {
  ExponentialDecayLR,
  NaturalExpDecayLR,
  InverseDecayLR,
  CosineDecayLR,
  PolynomialDecayLR,
  WarmUpLR,
} from './schedules/schedules';
export {
  piecewiseConstantLr,
  exponentialDecayLr,
  naturalExpDecayLr,
  inverseDecayLr,
  cosineDecayLr,
  polynomialDecayLr,
  warmupLr,
} from './schedules/dynamic-lr';
export type { ParameterGroup, OrderParamsGroup, ParamsInput } from './config/groups';
export type { StateDict } from './state/checkpoint';
