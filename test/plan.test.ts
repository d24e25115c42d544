/**
 * The step plan's layout as the binding exports it from its tables (binding/core/plan.h,
 * include/variants.h) and the facade's reading of the knob table (lib/step/plan.ts).
 */
import { Parameter } from '../lib';
import { readOptions, OPTION_SPECS, type ResolvedOptions } from '../lib/config/options';
import { readParams } from '../lib/config/groups';
import { binding } from '../lib/native/native';
import { StepPlan, variantBits } from '../lib/step/plan';

const layout = binding.planLayout;

describe('planLayout', () => {
  it('lists the header slots, then the tensor slots, each index once', () => {
    const header = [layout.decay, layout.momentum, layout.epsilon, layout.invLossScale, layout.checkFinite, layout.complementInDouble];
    expect([...header].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(layout.headerSize).toBe(header.length);
    const tensor = [layout.lr, layout.weightDecay, layout.flags, layout.slices];
    expect([...tensor].sort()).toEqual([0, 1, 2, 3]);
    expect(layout.tensorStride).toBe(tensor.length);
  });

  it('gives each variant knob its own bit, numbered in table order, and centralize the bit above them', () => {
    expect(layout.variants.map((v) => v.name)).toEqual(['coupledWeightDecay', 'decoupledWeightDecay', 'epsilonOutside', 'lrOutsideMomentum', 'nesterov']);
    layout.variants.forEach((v, i) => expect(v.bit).toBe(2 ** i));
    expect(layout.centralize).toBe(2 ** layout.variants.length);
  });

  it('names, for each knob, an option and a value that option accepts', () => {
    for (const knob of layout.variants) {
      expect(Object.keys(OPTION_SPECS)).toContain(knob.option);
      const spec = OPTION_SPECS[knob.option as keyof ResolvedOptions];
      expect(spec.read('RMSProp', knob.option, knob.value)).toBe(knob.value);
    }
  });
});

describe('variantBits', () => {
  const bit = (name: string) => layout.variants.find((v) => v.name === name)!.bit;

  it('is 0 for the defaults, with or without weight decay but coupled decay', () => {
    const options = readOptions('RMSProp', {});
    expect(variantBits(options, false)).toBe(0);
    expect(variantBits(options, true)).toBe(bit('coupledWeightDecay'));
  });

  it('sets the bit of each option that has its knob value, weighted knobs only with weight decay', () => {
    const options = readOptions('RMSProp', { flavor: 'pytorch', nesterov: true, weightDecayMode: 'decoupled' });
    const shared = bit('epsilonOutside') | bit('lrOutsideMomentum') | bit('nesterov');
    expect(variantBits(options, false)).toBe(shared);
    expect(variantBits(options, true)).toBe(shared | bit('decoupledWeightDecay'));
  });

  it('is what the plan writes in each tensor\'s flags, with centralize on rank ≥ 3 tensors of flagged groups', () => {
    const options = readOptions('RMSProp', { epsilonPlacement: 'outside' });
    const conv = new Parameter(new Float32Array(8), 'conv', { shape: [2, 2, 2] });
    const bias = new Parameter(new Float32Array(2), 'bias');
    const { entries } = readParams('RMSProp', [{ params: [conv], gradCentralization: true, weightDecay: 0.1 }, { params: [bias] }], options);
    const plan = new StepPlan(entries, options).values;
    const flags = (i: number) => plan[layout.headerSize + i * layout.tensorStride + layout.flags];
    expect(flags(0)).toBe(bit('epsilonOutside') | bit('coupledWeightDecay') | layout.centralize);
    expect(flags(1)).toBe(bit('epsilonOutside'));
  });
});
