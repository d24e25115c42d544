/** Every constructor and step error of the contract in this scope: class, and a message naming the key and value. */
import { Parameter, RMSProp, Tensor, ValueError } from '../lib';
import { thrown } from './helpers';

const w = () => new Parameter(new Float32Array([1, 2, 3]), 'w');


describe('ValueError', () => {
  it('is a RangeError named ValueError', () => {
    const e = new ValueError('x');
    expect(e).toBeInstanceOf(RangeError);
    expect(e).toBeInstanceOf(ValueError);
    expect(e.name).toBe('ValueError');
    expect(e.message).toBe('x');
  });
});

describe('RMSProp constructor options', () => {
  it('gives the contract example message for epsilon 0', () => {
    const e = thrown(() => new RMSProp([w()], { epsilon: 0 }));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toBe("For 'RMSProp', the 'epsilon' must be > 0, but got 0.");
  });

  const numberOptions = ['learningRate', 'decay', 'momentum', 'epsilon', 'lossScale', 'weightDecay'] as const;
  const wrongTypes: [string, unknown, RegExp][] = [
    ['a string', '0.1', /the string '0\.1'/],
    ['a boolean', true, /the boolean true/],
    ['null', null, /null/],
    ['a bigint', BigInt(1), /the bigint 1n/],
  ];
  describe.each(numberOptions)('%s', (key) => {
    it.each(wrongTypes)('rejects %s with a TypeError naming it', (_label, value, shown) => {
      const e = thrown(() => new RMSProp([w()], { [key]: value } as never));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toContain(`'${key}'`);
      expect(e.message).toMatch(shown);
    });

    it.each([NaN, Infinity, -Infinity])('rejects %s with a ValueError', (value) => {
      const e = thrown(() => new RMSProp([w()], { [key]: value }));
      expect(e).toBeInstanceOf(ValueError);
      expect(e.message).toContain(`'${key}'`);
      expect(e.message).toContain(String(value));
    });

    it('rejects a negative value with a ValueError', () => {
      const e = thrown(() => new RMSProp([w()], { [key]: -0.5 }));
      expect(e).toBeInstanceOf(ValueError);
      expect(e.message).toMatch(new RegExp(`'${key}' must be >=? 0, but got -0\\.5\\.`));
    });
  });

  it.each(['decay', 'momentum', 'learningRate', 'weightDecay'])('accepts 0 for %s', (key) => {
    expect(() => new RMSProp([w()], { [key]: 0 })).not.toThrow();
  });

  it.each(['epsilon', 'lossScale'])('requires %s > 0', (key) => {
    const e = thrown(() => new RMSProp([w()], { [key]: 0 }));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toBe(`For 'RMSProp', the '${key}' must be > 0, but got 0.`);
  });

  it('accepts decay and momentum above 1, as MindSpore does', () => {
    expect(() => new RMSProp([w()], { decay: 1.5, momentum: 2 })).not.toThrow();
  });

  it.each(['useLocking', 'centered'])('requires %s to be a boolean', (key) => {
    for (const value of [1, 'true', null]) {
      const e = thrown(() => new RMSProp([w()], { [key]: value } as never));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toContain(`'${key}' must be a boolean`);
    }
  });

  it('checks device', () => {
    expect(thrown(() => new RMSProp([w()], { device: 'gpu' as never }))).toBeInstanceOf(ValueError);
    expect(thrown(() => new RMSProp([w()], { device: 1 as never }))).toBeInstanceOf(TypeError);
  });

  it.each([
    ['learning_rate', 'learningRate'],
    ['weight_decay', 'weightDecay'],
    ['loss_scale', 'lossScale'],
    ['use_locking', 'useLocking'],
    ['lr', 'learningRate'],
    ['eps', 'epsilon'],
    ['Centered', 'centered'],
  ])('rejects the unknown option %s and suggests %s', (key, suggestion) => {
    const e = thrown(() => new RMSProp([w()], { [key]: 0.1 } as never));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain(`'${key}' is not a known option`);
    expect(e.message).toContain(`Did you mean '${suggestion}'?`);
  });

  it('rejects an unknown option without a close match, listing the options', () => {
    const e = thrown(() => new RMSProp([w()], { foo: 1 } as never));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain("'foo' is not a known option");
    expect(e.message).toContain('learningRate, decay, momentum');
  });

  it('rejects options that are not an object', () => {
    for (const options of [null, 5, 'x', []]) {
      expect(thrown(() => new RMSProp([w()], options as never))).toBeInstanceOf(TypeError);
    }
  });

  it('accepts undefined options and undefined values as defaults', () => {
    expect(() => new RMSProp([w()])).not.toThrow();
    expect(() => new RMSProp([w()], { decay: undefined })).not.toThrow();
  });

  it('rejects a parameterSync other than step or manual', () => {
    expect(thrown(() => new RMSProp([w()], { parameterSync: 'auto' as never }))).toBeInstanceOf(ValueError);
    expect(thrown(() => new RMSProp([w()], { parameterSync: 1 as never }))).toBeInstanceOf(TypeError);
    expect(thrown(() => new RMSProp([w()], { parameterSync: 'auto' as never })).message).toContain("'step' or 'manual'");
  });
});

describe('RMSProp learning-rate forms', () => {
  it('rejects a learning-rate Tensor of rank 2 with a ValueError', () => {
    const e = thrown(() => new RMSProp([w()], { learningRate: new Tensor([0.1, 0.2], [1, 2]) }));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toContain("'learningRate'");
  });

  it('rejects unsupported learning-rate types with a TypeError', () => {
    for (const value of [{}, true, Symbol('lr')]) {
      const e = thrown(() => new RMSProp([w()], { learningRate: value as never }));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toContain("'learningRate'");
    }
  });

  it('rejects a table holding a non-number with a TypeError naming the entry', () => {
    const e = thrown(() => new RMSProp([w()], { learningRate: [0.1, '0.2'] as never }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain("'learningRate[1]'");
  });
});

describe('RMSProp params', () => {
  it('requires params', () => {
    for (const params of [undefined, null, []]) {
      const e = thrown(() => new RMSProp(params as never));
      expect(e).toBeInstanceOf(ValueError);
      expect(e.message).toContain("'params'");
    }
  });

  it('rejects a non-iterable params with a TypeError', () => {
    expect(thrown(() => new RMSProp(w() as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new RMSProp(5 as never))).toBeInstanceOf(TypeError);
  });

  it('rejects a non-Parameter inside params, naming its index', () => {
    const e = thrown(() => new RMSProp([w(), new Tensor([1]) as never]));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain("'params[1]' must be a Parameter, but got a Tensor.");
  });

  it('rejects the same parameter twice, by object or by name', () => {
    const p = w();
    expect(thrown(() => new RMSProp([p, p]))).toBeInstanceOf(ValueError);
    const e = thrown(() => new RMSProp([p, new Parameter([1], 'w')]));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toContain("name 'w'");
  });

  it('accepts any iterable of parameters', () => {
    const p = w();
    const opt = new RMSProp(new Set([p]) as never);
    expect(opt.parameters).toEqual([p]);
  });
});

describe('step validation leaves everything unchanged', () => {
  function setup() {
    const a = new Parameter(new Float32Array([1, 2, 3]), 'a');
    const b = new Parameter(new Float64Array([4, 5]), 'b');
    const opt = new RMSProp([a, b], { centered: true, momentum: 0.9 });
    opt.step([new Float32Array([0.1, 0.2, 0.3]), new Float64Array([0.4, 0.5])]);
    const snapshot = () => ({
      a: Array.from(a.data),
      b: Array.from(b.data),
      state: [a, b].map((p) => {
        const s = opt.state(p);
        return [Array.from(s.meanSquare), Array.from(s.moment), Array.from(s.meanGrad!)];
      }),
      globalStep: opt.globalStep,
    });
    return { opt, a, b, snapshot };
  }

  const good32 = () => new Float32Array([0.1, 0.2, 0.3]);
  const good64 = () => new Float64Array([0.4, 0.5]);
  const cases: [string, () => unknown, typeof TypeError | typeof ValueError, RegExp][] = [
    ['not an array', () => good32(), TypeError, /'gradients'/],
    ['too few gradients', () => [good32()], ValueError, /'gradients' must be an array of 2 gradients/],
    ['too many gradients', () => [good32(), good64(), good64()], ValueError, /'gradients'/],
    ['a wrong dtype', () => [good32(), new Float32Array([0.4, 0.5])], TypeError, /'gradients\[1\]' must be of dtype float64/],
    ['a wrong length', () => [good32(), new Float64Array(3)], ValueError, /'gradients\[1\]' must be of length 2/],
    ['a number array', () => [[0.1, 0.2, 0.3], good64()], TypeError, /'gradients\[0\]'/],
    ['null', () => [good32(), null], TypeError, /'gradients\[1\]'.*null/],
    ['an Int32Array', () => [new Int32Array(3), good64()], TypeError, /Int32Array/],
    ['a Tensor of the wrong dtype', () => [new Tensor(new Float64Array(3)), good64()], TypeError, /'gradients\[0\]'/],
  ];

  it.each(cases)('%s', (_label, makeGradients, errorClass, message) => {
    const { opt, snapshot } = setup();
    const before = snapshot();
    const e = thrown(() => opt.step(makeGradients() as never));
    expect(e).toBeInstanceOf(errorClass);
    expect(e.message).toMatch(message);
    expect(snapshot()).toEqual(before);
  });

  it('a learning-rate table that has run out', () => {
    const p = new Parameter(new Float32Array([1, 2]), 'p');
    const opt = new RMSProp([p], { learningRate: new Float32Array([0.1]) });
    opt.step([new Float32Array([0.1, 0.2])]);
    const before = Array.from(p.data);
    const e = thrown(() => opt.step([new Float32Array([0.1, 0.2])]));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toContain("'learningRate' table");
    expect(Array.from(p.data)).toEqual(before);
    expect(opt.globalStep).toBe(1);
  });

  it('a learning-rate function that throws or returns a non-number', () => {
    const p = new Parameter(new Float32Array([1, 2]), 'p');
    const failing = new RMSProp([p], { learningRate: () => { throw new Error('boom'); } });
    expect(() => failing.step([new Float32Array(2)])).toThrow('boom');
    const wrong = new RMSProp([p], { learningRate: (() => '0.1') as never });
    expect(thrown(() => wrong.step([new Float32Array(2)]))).toBeInstanceOf(TypeError);
    expect(Array.from(p.data)).toEqual([1, 2]);
    expect(failing.globalStep + wrong.globalStep).toBe(0);
  });

  it('a parameter whose buffer was transferred', () => {
    const p = new Parameter(new Float32Array([1, 2]), 'p');
    const opt = new RMSProp([p]);
    const buffer = p.data.buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });
    const e = thrown(() => opt.step([new Float32Array(2)]));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toContain('transferred');
    expect(opt.globalStep).toBe(0);
  });
});

describe('Tensor and Parameter validation', () => {
  it('rejects bad data and shapes', () => {
    expect(thrown(() => new Tensor('abc' as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new Tensor([1, 'a'] as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new Tensor(new Int8Array(2) as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new Tensor([1, 2, 3], [2, 2]))).toBeInstanceOf(ValueError);
    expect(thrown(() => new Tensor([1, 2], [2.5] as never))).toBeInstanceOf(ValueError);
    expect(thrown(() => new Tensor([1, 2], 'x' as never))).toBeInstanceOf(TypeError);
  });

  it('rejects a bad name or requiresGrad', () => {
    expect(thrown(() => new Parameter([1], ''))).toBeInstanceOf(ValueError);
    expect(thrown(() => new Parameter([1], 5 as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new Parameter([1], 'w', { requiresGrad: 1 as never }))).toBeInstanceOf(TypeError);
    expect(thrown(() => new Parameter([1], 'w', null as never))).toBeInstanceOf(TypeError);
  });
});

describe('error wording', () => {
  const p = () => new Parameter(new Float32Array(9), 'w', { shape: [3, 3] });

  it('shows shapes and names as they are, never as "the string"', () => {
    expect(thrown(() => new Tensor(new Float32Array(4), [3, 3])).message).toBe(
      "For 'Tensor', the 'shape' must be an array whose product equals the data length 4, but got [3, 3].",
    );
    const opt = new RMSProp([p()]);
    expect(thrown(() => opt.state(new Parameter(new Float32Array(1), 'zz'))).message).toBe(
      "For 'RMSProp', the 'param' must be one of the parameters of this optimizer, but got the parameter 'zz'.",
    );
  });

  it('words a subject that is a phrase without quotes around it', () => {
    const shared = new Parameter(new Float32Array(new SharedArrayBuffer(16)), 'w');
    const opt = new RMSProp([shared], { learningRate: (step: number) => 0.01 / (1 + step) });
    expect(thrown(() => opt.share()).message).toMatch(/^For 'RMSProp\.share', the learning rate of parameter 0 must be a number, a table or one of this library's schedule classes/);
  });

  it('says "an" before a vowel', () => {
    expect(thrown(() => new RMSProp([p()]).step([new Int32Array(9) as never])).message).toMatch(/but got an Int32Array of length 9/);
  });

  it('names a TensorFlow.js tensor passed as a gradient and says what to pass instead', () => {
    const fake = { dataId: {}, dtype: 'float32', shape: [3, 3], dataSync: () => new Float32Array(9) }; // the shape of a tfjs tensor
    const message = thrown(() => new RMSProp([p()]).step([fake as never])).message;
    expect(message).toMatch(/but got a TensorFlow\.js tensor \(float32 \[3, 3\]; pass its dataSync\(\) array, or train through TfjsRMSProp from 'rmsprop-native\/tfjs'\)/);
  });

  it('suggests the option a typo meant: a wrong letter, two swapped letters, another case', () => {
    expect(thrown(() => new RMSProp([p()], { momemtum: 0.9 } as never)).message).toMatch(/'momemtum' is not a known option\. Did you mean 'momentum'\?/);
    expect(thrown(() => new RMSProp([p()], { cenetred: true } as never)).message).toMatch(/Did you mean 'centered'\?/);
    expect(thrown(() => new RMSProp([p()], { Epsilon: 1e-8 } as never)).message).toMatch(/Did you mean 'epsilon'\?/);
    expect(thrown(() => new RMSProp([p()], { zzz: 1 } as never)).message).not.toMatch(/Did you mean/);
  });
});
