/**
 * MindSpore's learning-rate schedule classes (`mindspore.nn.*DecayLR`, `WarmUpLR`): same
 * constructor arguments in the same order, same formulas, evaluated in float32 arithmetic as
 * MindSpore does (every intermediate rounded with Math.fround). Pass one as `learningRate`.
 */
import { boolean, nonNegative, positive, positiveInteger } from '../base/checks';
import { valueError } from '../base/errors';
import { LearningRateSchedule } from './learning-rate';

const f = Math.fround;
const PI = f(Math.PI);

/** The arguments shared by the three decay schedules, validated as MindSpore does. */
abstract class DecayLR extends LearningRateSchedule {
  readonly learningRate: number;
  readonly decayRate: number;
  readonly decaySteps: number;
  readonly isStair: boolean;

  constructor(learningRate: number, decayRate: number, decaySteps: number, isStair = false) {
    super();
    const owner = new.target.name;
    this.learningRate = positive(owner, 'learningRate', learningRate);
    this.decayRate = positive(owner, 'decayRate', decayRate);
    this.decaySteps = positiveInteger(owner, 'decaySteps', decaySteps);
    this.isStair = boolean(owner, 'isStair', isStair);
  }

  /** step/decaySteps in float32, floored when isStair. */
  protected progress(globalStep: number): number {
    const p = f(f(globalStep) / this.decaySteps);
    return this.isStair ? Math.floor(p) : p;
  }
}

/** lr·decayRate^p, p = step/decaySteps (floored when isStair). */
export class ExponentialDecayLR extends DecayLR {
  at(globalStep: number): number {
    return f(f(this.learningRate) * f(Math.pow(f(this.decayRate), this.progress(globalStep))));
  }
}

/**
 * lr·e^(−decayRate·p), p = step, or floor(step/decaySteps)·decaySteps when isStair. As MindSpore
 * computes it: without isStair the step is not divided by decaySteps.
 */
export class NaturalExpDecayLR extends DecayLR {
  at(globalStep: number): number {
    const p = this.isStair ? f(this.progress(globalStep) * this.decaySteps) : f(globalStep);
    return f(f(this.learningRate) * f(Math.exp(f(-f(this.decayRate) * p))));
  }
}

/** lr / (1 + decayRate·p), p = step/decaySteps (floored when isStair). */
export class InverseDecayLR extends DecayLR {
  at(globalStep: number): number {
    return f(f(this.learningRate) / f(1 + f(f(this.decayRate) * this.progress(globalStep))));
  }
}

/** minLr + ½(maxLr − minLr)(1 + cos(π·p/decaySteps)), p = min(step, decaySteps). */
export class CosineDecayLR extends LearningRateSchedule {
  readonly minLr: number;
  readonly maxLr: number;
  readonly decaySteps: number;

  constructor(minLr: number, maxLr: number, decaySteps: number) {
    super();
    const owner = 'CosineDecayLR';
    this.minLr = nonNegative(owner, 'minLr', minLr);
    this.maxLr = positive(owner, 'maxLr', maxLr);
    this.decaySteps = positiveInteger(owner, 'decaySteps', decaySteps);
    if (!(this.minLr < this.maxLr)) {
      throw valueError(owner, 'maxLr', `greater than the 'minLr' ${this.minLr}`, this.maxLr);
    }
  }

  at(globalStep: number): number {
    // MindSpore (nn/learning_rate_schedule.py, CosineDecayLR.construct):
    //   min_lr + delta * (1.0 + cos(math_pi * p / decay_steps)), p = float32(min(step, decay_steps)),
    // every operation in float32 from left to right: (π·p) first, then the division.
    const p = f(Math.min(globalStep, this.decaySteps));
    const delta = f(0.5 * (this.maxLr - this.minLr)); // MindSpore takes this difference in float64
    const cosine = f(Math.cos(f(f(PI * p) / this.decaySteps)));
    return f(f(this.minLr) + f(delta * f(1 + cosine)));
  }
}

/**
 * (lr − end)(1 − t/T)^power + end. Normally T = decaySteps and t = min(step, decaySteps); with
 * updateDecaySteps, T = decaySteps·max(⌈step/decaySteps⌉, 1) and t = step.
 */
export class PolynomialDecayLR extends LearningRateSchedule {
  readonly learningRate: number;
  readonly endLearningRate: number;
  readonly decaySteps: number;
  readonly power: number;
  readonly updateDecaySteps: boolean;

  constructor(learningRate: number, endLearningRate: number, decaySteps: number, power: number, updateDecaySteps = false) {
    super();
    const owner = 'PolynomialDecayLR';
    this.learningRate = positive(owner, 'learningRate', learningRate);
    this.endLearningRate = nonNegative(owner, 'endLearningRate', endLearningRate);
    this.decaySteps = positiveInteger(owner, 'decaySteps', decaySteps);
    this.power = positive(owner, 'power', power);
    this.updateDecaySteps = boolean(owner, 'updateDecaySteps', updateDecaySteps);
  }

  at(globalStep: number): number {
    let step = f(globalStep);
    let total = f(this.decaySteps);
    if (this.updateDecaySteps) {
      total = f(Math.max(Math.ceil(f(step / total)), 1) * total);
    } else {
      step = Math.min(step, total);
    }
    const p = f(step / total);
    const difference = f(this.learningRate - this.endLearningRate); // float64 in MindSpore
    return f(f(difference * f(Math.pow(f(1 - p), f(this.power)))) + f(this.endLearningRate));
  }
}

/** lr · min(step, warmupSteps) / warmupSteps. */
export class WarmUpLR extends LearningRateSchedule {
  readonly learningRate: number;
  readonly warmupSteps: number;

  constructor(learningRate: number, warmupSteps: number) {
    super();
    const owner = 'WarmUpLR';
    this.learningRate = nonNegative(owner, 'learningRate', learningRate);
    this.warmupSteps = positiveInteger(owner, 'warmupSteps', warmupSteps);
  }

  at(globalStep: number): number {
    const percent = f(f(Math.min(globalStep, this.warmupSteps)) / this.warmupSteps);
    return f(f(this.learningRate) * percent);
  }
}
