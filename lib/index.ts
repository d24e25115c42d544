/**
 * rmsprop-native: MindSpore's RMSProp optimizer for Node.js, with SIMD kernels.
 * @packageDocumentation
 */
export { ValueError } from './errors';
export { Tensor, Parameter } from './tensor';
export type { DType, FloatArray, TensorData, ParameterOptions } from './tensor';
export { LearningRateSchedule } from './learning-rate';
export type { LearningRate, LearningRateFunction, WeightDecay } from './learning-rate';
export type { RMSPropOptions, Device, ParameterSync, Flavor, EpsilonPlacement, WeightDecayMode, DecayComplement } from './options';
export type { StateFormat } from './formats';
export { RMSProp, type DeviceBuffers } from './rmsprop';
import './distributed/optimizer'; // registers the data-parallel optimizer with RMSProp's constructor
export * as distributed from './distributed';
export type { DataParallelRMSProp } from './distributed/optimizer';
export { DynamicLossScaler, type DynamicLossScalerOptions } from './loss-scale';
export { simdLevel, numThreads, setNumThreads } from './settings';
export { cudaAvailable } from './cuda';
export type { SharedRMSProp, SharedParameter, SharedStepValue } from './sharing';
export type { Gradient } from './rmsprop';
export type { ParameterState } from './state';
export type { SimdLevel } from './native';
export {
  ExponentialDecayLR,
  NaturalExpDecayLR,
  InverseDecayLR,
  CosineDecayLR,
  PolynomialDecayLR,
  WarmUpLR,
} from './schedules';
export {
  piecewiseConstantLr,
  exponentialDecayLr,
  naturalExpDecayLr,
  inverseDecayLr,
  cosineDecayLr,
  polynomialDecayLr,
  warmupLr,
} from './dynamic-lr';
export type { ParameterGroup, OrderParamsGroup, ParamsInput } from './groups';
export type { StateDict } from './checkpoint';
