/**
 * The data-parallel scenarios of test/distributed.test.ts, shared by the rank script (run by
 * distributed.launch in worker threads, against the built package) and the test's one-process
 * reference (against lib/): the parameters, options and per-rank gradients of each preset.
 * `pkg` is the package whose Parameter/RMSProp classes to use.
 */
'use strict';

/** Deterministic values: a smooth function of the indices, different per rank and step. */
function wave(i, j, rank, step) {
  return Math.sin(0.37 * j + 1.3 * i + 0.71 * rank + 0.53 * step) * (1 + 0.25 * Math.cos(0.11 * j + rank));
}

// name, shape, dtype of each preset's parameters (sizes chosen to straddle the rank cuts).
const PARAMS = {
  mixed: [
    ['conv.weight', [6, 3, 3, 3], 'float32'],
    ['fc.weight', [10, 137], 'float32'],
    ['fc.bias', [10], 'float32'],
    ['bn.gamma', [10], 'float32'],
  ],
  float64: [
    ['w', [1031], 'float64'],
    ['beta', [17], 'float64'],
  ],
  bf16: [
    ['w', [999], 'bfloat16'],
    ['v', [33], 'float16'],
    ['b', [40], 'float32'],
  ],
  flavor: [
    ['w', [777], 'float32'],
    ['b', [9], 'float32'],
  ],
};

function initial(pkg, dtype, values) {
  if (dtype === 'float32') return Float32Array.from(values);
  if (dtype === 'float64') return Float64Array.from(values);
  return new pkg.Tensor(values, [values.length], { dtype }).data; // rounded to the half dtype's bits
}

/** The parameters of `config` as rank `rank` creates them (different per rank: the broadcast makes them rank 0's). */
function parameters(pkg, config, rank) {
  return PARAMS[config.preset].map(([name, shape, dtype], i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, (_, j) => 0.5 * wave(i, j, 0, -1) + rank * 0.25);
    const renamed = config.renameOn === rank && i === 1 ? `${name}.other` : name;
    return new pkg.Parameter(initial(pkg, dtype, values), renamed, { shape, dtype });
  });
}

/** The `params` argument and options of the preset. */
function build(pkg, config, rank) {
  const params = parameters(pkg, config, rank);
  const options = { ...(config.options || {}) };
  let input = params;
  switch (config.preset) {
    case 'mixed':
      input = [
        { params: [params[0]], weightDecay: 0.01, gradCentralization: true },
        { params: params.slice(1), lr: new pkg.ExponentialDecayLR(0.01, 0.9, 2) },
        { orderParams: params },
      ];
      Object.assign(options, { learningRate: 0.02, centered: true, momentum: 0.9, lossScale: 8, weightDecay: 0.001 });
      break;
    case 'float64':
      Object.assign(options, { learningRate: 0.05, momentum: 0.5, weightDecay: 0.001 });
      break;
    case 'bf16':
      Object.assign(options, { learningRate: 0.01, masterWeights: true, centered: true });
      break;
    case 'flavor':
      Object.assign(options, { learningRate: 0.01, momentum: 0.9, weightDecay: 0.01 });
      break;
    default:
      throw new Error(`unknown preset ${config.preset}`);
  }
  if (config.dynamicScale) options.lossScale = new pkg.DynamicLossScaler(config.dynamicScale);
  return { params, input, options };
}

/** Rank `rank`'s gradients at `step`: float32 for float32 and half parameters, float64 for float64. */
function gradients(config, rank, step) {
  const scale = config.preset === 'mixed' ? 8 : 1; // the loss scale the gradients arrive multiplied by
  return PARAMS[config.preset].map(([, shape, dtype], i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const g = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
    for (let j = 0; j < size; j++) g[j] = scale * wave(i, j, rank, step);
    if (config.nanAt && config.nanAt.rank === rank && config.nanAt.step === step && i === 0) g[size - 1] = NaN;
    return g;
  });
}

/** The mean over `size` ranks as the exchange forms it: summed in rank order in float64, divided, rounded once. */
function meanGradients(config, size, step) {
  const all = Array.from({ length: size }, (_, r) => gradients(config, r, step));
  return all[0].map((first, i) => {
    const mean = new first.constructor(first.length);
    for (let j = 0; j < first.length; j++) {
      let sum = 0;
      for (let r = 0; r < size; r++) sum += all[r][i][j];
      mean[j] = sum / size;
    }
    return mean;
  });
}

module.exports = { build, gradients, meanGradients };
