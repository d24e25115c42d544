/**
 * MindSpore's `dynamic_lr` list helpers: each returns the learning rate of every step as a
 * `number[]` (float64 arithmetic, as in Python), to pass as `learningRate`. With
 * e(i) = ⌊i / stepPerEpoch⌋ the epoch of step i, and totalStep entries.
 */
import { boolean, nonNegative, positive, positiveInteger } from '../base/checks';
import { typeError, valueError } from '../base/errors';

interface EpochArgs {
  totalStep: number;
  stepPerEpoch: number;
}

function epochs(owner: string, totalStep: number, stepPerEpoch: number): EpochArgs {
  return {
    totalStep: positiveInteger(owner, 'totalStep', totalStep),
    stepPerEpoch: positiveInteger(owner, 'stepPerEpoch', stepPerEpoch),
  };
}

function perStep(args: EpochArgs, lrOfEpoch: (epoch: number) => number): number[] {
  const out = new Array<number>(args.totalStep);
  for (let i = 0; i < args.totalStep; i++) out[i] = lrOfEpoch(Math.floor(i / args.stepPerEpoch));
  return out;
}

/** learningRates[t] repeated milestone[t] − milestone[t−1] times (milestone[−1] = 0). */
export function piecewiseConstantLr(milestone: readonly number[], learningRates: readonly number[]): number[] {
  const owner = 'piecewiseConstantLr';
  if (!Array.isArray(milestone)) throw typeError(owner, 'milestone', 'an array of positive integers', milestone);
  if (!Array.isArray(learningRates)) throw typeError(owner, 'learningRates', 'an array of numbers', learningRates);
  if (milestone.length !== learningRates.length) {
    throw valueError(owner, 'learningRates', `an array of ${milestone.length} (as many as milestones)`, learningRates);
  }
  const out: number[] = [];
  let previous = 0;
  milestone.forEach((m, t) => {
    positiveInteger(owner, `milestone[${t}]`, m);
    if (!(m > previous)) throw valueError(owner, `milestone[${t}]`, `greater than milestone[${t - 1}] (${previous})`, m);
    const lr = positive(owner, `learningRates[${t}]`, learningRates[t]);
    for (let i = previous; i < m; i++) out.push(lr);
    previous = m;
  });
  return out;
}

// The arguments shared by the three decay helpers, validated as MindSpore's _check_inputs.
function decayArgs(
  owner: string, learningRate: number, decayRate: number, totalStep: number, stepPerEpoch: number,
  decayEpoch: number, isStair: boolean,
) {
  return {
    lr: positive(owner, 'learningRate', learningRate),
    rate: positive(owner, 'decayRate', decayRate),
    args: epochs(owner, totalStep, stepPerEpoch),
    every: positiveInteger(owner, 'decayEpoch', decayEpoch),
    stair: boolean(owner, 'isStair', isStair),
  };
}

/** lr·decayRate^(e/decayEpoch), the exponent floored when isStair. */
export function exponentialDecayLr(
  learningRate: number, decayRate: number, totalStep: number, stepPerEpoch: number, decayEpoch: number, isStair = false,
): number[] {
  const { lr, rate, args, every, stair } = decayArgs(
    'exponentialDecayLr', learningRate, decayRate, totalStep, stepPerEpoch, decayEpoch, isStair);
  return perStep(args, (e) => lr * rate ** (stair ? Math.floor(e / every) : e / every));
}

/** lr·e^(−decayRate·e'), e' = e, or ⌊e/decayEpoch⌋·decayEpoch when isStair. */
export function naturalExpDecayLr(
  learningRate: number, decayRate: number, totalStep: number, stepPerEpoch: number, decayEpoch: number, isStair = false,
): number[] {
  const { lr, rate, args, every, stair } = decayArgs(
    'naturalExpDecayLr', learningRate, decayRate, totalStep, stepPerEpoch, decayEpoch, isStair);
  // e^x written as MindSpore's Python writes it (math.e ** x), which can differ from exp(x) by an ulp.
  return perStep(args, (e) => lr * Math.E ** (-rate * (stair ? Math.floor(e / every) * every : e)));
}

/** lr / (1 + decayRate·e/decayEpoch), the quotient floored when isStair. */
export function inverseDecayLr(
  learningRate: number, decayRate: number, totalStep: number, stepPerEpoch: number, decayEpoch: number, isStair = false,
): number[] {
  const { lr, rate, args, every, stair } = decayArgs(
    'inverseDecayLr', learningRate, decayRate, totalStep, stepPerEpoch, decayEpoch, isStair);
  return perStep(args, (e) => lr / (1 + rate * (stair ? Math.floor(e / every) : e / every)));
}

/** minLr + ½(maxLr − minLr)(1 + cos(π·min(e, decayEpoch)/decayEpoch)). */
export function cosineDecayLr(
  minLr: number, maxLr: number, totalStep: number, stepPerEpoch: number, decayEpoch: number,
): number[] {
  const owner = 'cosineDecayLr';
  const low = nonNegative(owner, 'minLr', minLr);
  const high = positive(owner, 'maxLr', maxLr);
  if (!(low < high)) throw valueError(owner, 'maxLr', `greater than the 'minLr' ${low}`, high);
  const args = epochs(owner, totalStep, stepPerEpoch);
  const every = positiveInteger(owner, 'decayEpoch', decayEpoch);
  const delta = 0.5 * (high - low);
  return perStep(args, (e) => low + delta * (1 + Math.cos((Math.PI * Math.min(e, every)) / every)));
}

/**
 * (lr − end)(1 − t/T)^power + end; normally T = decayEpoch and t = min(e, decayEpoch); with
 * updateDecayEpoch, T = decayEpoch·max(⌈e/decayEpoch⌉, 1) and t = e.
 */
export function polynomialDecayLr(
  learningRate: number, endLearningRate: number, totalStep: number, stepPerEpoch: number, decayEpoch: number,
  power: number, updateDecayEpoch = false,
): number[] {
  const owner = 'polynomialDecayLr';
  const lr = positive(owner, 'learningRate', learningRate);
  const end = nonNegative(owner, 'endLearningRate', endLearningRate);
  const args = epochs(owner, totalStep, stepPerEpoch);
  const every = positiveInteger(owner, 'decayEpoch', decayEpoch);
  const exponent = positive(owner, 'power', power);
  const update = boolean(owner, 'updateDecayEpoch', updateDecayEpoch);
  return perStep(args, (e) => {
    const total = update ? every * Math.max(Math.ceil(e / every), 1) : every;
    const t = update ? e : Math.min(e, every);
    return (lr - end) * (1 - t / total) ** exponent + end;
  });
}

/** lr·min(e, warmupEpoch)/warmupEpoch. */
export function warmupLr(learningRate: number, totalStep: number, stepPerEpoch: number, warmupEpoch: number): number[] {
  const owner = 'warmupLr';
  const lr = positive(owner, 'learningRate', learningRate);
  const args = epochs(owner, totalStep, stepPerEpoch);
  const warmup = positiveInteger(owner, 'warmupEpoch', warmupEpoch);
  return perStep(args, (e) => (lr * Math.min(e, warmup)) / warmup);
}
