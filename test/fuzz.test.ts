/**
 * Property-based fuzzing of the public API: thousands of random options, groups and gradients.
 * Every failure must be a TypeError or ValueError (or the documented Error of an unavailable
 * device) and leave parameters, state and the global step exactly as they were.
 */
import fc from 'fast-check';

import { Parameter, RMSProp, Tensor, ValueError } from '../lib';
import { OPTION_SPECS } from '../lib/config/options';

// Every option, from the one table (lib/config/options.ts), and the data-parallel ones.
const OPTION_KEYS = [...Object.keys(OPTION_SPECS), 'communicator', 'shardState'];

// Values of every kind, biased towards the edges of each rule.
const anyValue = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e-10, NaN, Infinity, -Infinity, 2 ** 31, Number.MIN_VALUE),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constantFrom(null, undefined, 'cpu', 'cuda', 'step', 'manual', '0.1', ''),
  fc.string(),
  fc.bigInt(),
  fc.array(fc.double({ noNaN: true }), { maxLength: 4 }),
  fc.constant(new Float32Array([0.1, 0.2])),
  fc.constant(new Tensor([0.1, 0.2], [2, 1])),
  fc.constant(new Tensor(0.3)),
  fc.constant((k: number) => 0.1 / (k + 1)),
  fc.constant({ at: (k: number) => 0.01 * k }),
  fc.constant({}),
  fc.constant(Symbol('s')),
);

const options = fc.dictionary(fc.oneof(fc.constantFrom(...OPTION_KEYS), fc.string({ maxLength: 12 })), anyValue, { maxKeys: 5 });

// This library's user errors open with the owner and name the argument ("For 'RMSProp', the
// 'decay' must be ...", "For 'RMSProp', 'lr' is not a known option ..."); an engine TypeError
// ("Cannot read properties of undefined") does not.
const USER_ERROR = /^For '[\w.]+', (the )?'[^']*'/;
// The one documented plain Error a random option can cause: device 'cuda' where it is unavailable.
const CUDA_UNAVAILABLE = /^For 'RMSProp', the 'device' 'cuda' is not available \(cudaAvailable\(\) is false\): ./;

function expectUserError(e: unknown): void {
  const ok =
    ((e instanceof TypeError || e instanceof ValueError) && USER_ERROR.test(e.message)) ||
    (e instanceof Error && e.constructor === Error && CUDA_UNAVAILABLE.test(e.message));
  if (!ok) throw new Error(`unexpected ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
}

function snapshot(opt: RMSProp) {
  return JSON.stringify({
    step: opt.globalStep,
    values: opt.parameters.map((p) => {
      const s = opt.state(p);
      return [Array.from(p.data), Array.from(s.meanSquare), Array.from(s.moment), s.meanGrad ? Array.from(s.meanGrad) : null];
    }),
  });
}

describe('fuzz', () => {
  it('random option objects construct an optimizer or throw TypeError / ValueError', () => {
    fc.assert(
      fc.property(options, (opts) => {
        try {
          const opt = new RMSProp([new Parameter(new Float32Array([1, 2]), 'w')], opts as never);
          expect(opt.globalStep).toBe(0);
        } catch (e) {
          expectUserError(e);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('random group structures construct an optimizer or throw TypeError / ValueError', () => {
    const params = [0, 1, 2, 3].map((i) => new Parameter(new Float32Array(6), `p${i}`, { shape: [1, 2, 3] }));
    const paramRef = fc.oneof(fc.constantFrom(...params), anyValue);
    const group = fc.oneof(
      fc.record(
        { params: fc.oneof(fc.array(paramRef, { maxLength: 3 }), anyValue), lr: anyValue, weightDecay: anyValue, gradCentralization: anyValue },
        { requiredKeys: [] },
      ),
      fc.record({ orderParams: fc.oneof(fc.shuffledSubarray(params), anyValue) }),
      fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 2 }),
      paramRef,
    );
    fc.assert(
      fc.property(fc.oneof(fc.array(group, { maxLength: 4 }), anyValue), options, (groups, opts) => {
        try {
          new RMSProp(groups as never, opts as never);
        } catch (e) {
          expectUserError(e);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('random gradients step or throw TypeError / ValueError, changing nothing when they throw', () => {
    const a = new Parameter(new Float32Array([1, 2, 3]), 'a');
    const b = new Parameter(new Float64Array([4, 5]), 'b', { shape: [1, 2] });
    const opt = new RMSProp([a, b], { centered: true, momentum: 0.9, learningRate: new Float64Array(1e6).fill(0.01) });
    const gradient = fc.oneof(
      fc.constant(new Float32Array(3)),
      fc.constant(new Float64Array(2)),
      fc.constant(new Tensor(new Float64Array(2), [2, 1])),
      fc.constant(new Float32Array(2)),
      fc.constant(new Int32Array(3)),
      fc.array(fc.double(), { maxLength: 3 }),
      anyValue,
    );
    fc.assert(
      fc.property(fc.oneof(fc.array(gradient, { maxLength: 3 }), anyValue), (grads) => {
        const before = snapshot(opt);
        try {
          opt.step(grads as never);
        } catch (e) {
          expectUserError(e);
          expect(snapshot(opt)).toBe(before);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
