/**
 * Independent float64 references of each framework's RMSProp step, written from that framework's
 * own source (not from this library's knobs), one element at a time. A framework's NaN (a centered
 * variance below zero under its square root) stays NaN here: tests compare wherever it is finite.
 *
 * - tf1: tensorflow/python/training/rmsprop_test.py `_rmsprop_update_numpy` (TF 1.x, the kernel
 *   ApplyRMSProp / ApplyCenteredRMSProp): ms starts at 1.
 * - pytorch: torch/optim/rmsprop.py `_single_tensor_rmsprop` (v1.13): maximize, coupled weight
 *   decay, square_avg from 0, avg = √(square_avg − grad_avg²) + eps, momentum buffer without lr.
 * - keras: keras/src/optimizers/rmsprop.py `update_step` and base_optimizer `_apply_weight_decay`
 *   (Keras 3): velocity from 0, decoupled weight decay w − w·wd·lr first, ε inside the root.
 * - tfjs: tfjs-core/src/optimizers/rmsprop_optimizer.ts `applyGradients`: accumulators from 0,
 *   centered denominator √(s − (ḡ² + ε)).
 * - optax: optax/_src/transform.py `scale_by_rms` / `scale_by_stddev` (eps_in_sqrt) then
 *   `scale_by_learning_rate` and `trace` (momentum; with nesterov the update is u + decay·trace):
 *   nu from `initial_scale` 0.
 */
export type Framework = 'tf1' | 'pytorch' | 'keras' | 'tfjs' | 'optax';

export interface PeerConfig {
  lr: number;
  decay: number;
  momentum: number;
  epsilon: number;
  centered: boolean;
  /** The framework's weight_decay (PyTorch coupled, Keras decoupled); 0 for none. */
  weightDecay: number;
  /** PyTorch only. */
  maximize: boolean;
  /** optax only: `trace(decay=momentum, nesterov=True)`. */
  nesterov?: boolean;
}

/** One element's state, as every framework keeps it (names differ: see the README's tables). */
export interface PeerState {
  w: number;
  s: number;
  m: number;
  mg: number;
}

/** The initial mean square of each framework. */
export const INITIAL_MEAN_SQUARE: Record<Framework, number> = { tf1: 1, pytorch: 0, keras: 0, tfjs: 0, optax: 0 };

/** One step of `framework` on one element, in float64. */
export function peerStep(framework: Framework, c: PeerConfig, x: PeerState, grad: number): PeerState {
  const { lr, decay: rho, momentum: beta, epsilon: eps, centered } = c;
  switch (framework) {
    case 'tf1': {
      const s = x.s * rho + (1 - rho) * grad * grad;
      let denom = s + eps;
      let mg = x.mg;
      if (centered) {
        mg = x.mg * rho + (1 - rho) * grad;
        denom -= mg * mg;
      }
      const m = beta * x.m + (lr * grad) / Math.sqrt(denom);
      return { w: x.w - m, s, m, mg };
    }
    case 'pytorch': {
      let g = c.maximize ? -grad : grad;
      if (c.weightDecay !== 0) g = g + c.weightDecay * x.w;
      const s = x.s * rho + (1 - rho) * g * g;
      let mg = x.mg;
      let avg: number;
      if (centered) {
        mg = x.mg * rho + (1 - rho) * g;
        avg = Math.sqrt(s - mg * mg) + eps;
      } else {
        avg = Math.sqrt(s) + eps;
      }
      if (beta > 0) {
        const m = x.m * beta + g / avg;
        return { w: x.w - lr * m, s, m, mg };
      }
      return { w: x.w - (lr * g) / avg, s, m: x.m, mg };
    }
    case 'keras': {
      const w0 = c.weightDecay !== 0 ? x.w - x.w * c.weightDecay * lr : x.w;
      const s = rho * x.s + (1 - rho) * grad * grad;
      let mg = x.mg;
      let denominator: number;
      if (centered) {
        mg = rho * x.mg + (1 - rho) * grad;
        denominator = s - mg * mg + eps;
      } else {
        denominator = s + eps;
      }
      const increment = (lr * grad) / Math.sqrt(denominator);
      if (beta > 0) {
        const m = beta * x.m + increment;
        return { w: w0 - m, s, m, mg };
      }
      return { w: w0 - increment, s, m: x.m, mg };
    }
    case 'tfjs': {
      const s = x.s * rho + grad * grad * (1 - rho);
      let mg = x.mg;
      let adjusted: number;
      if (centered) {
        mg = x.mg * rho + grad * (1 - rho);
        adjusted = (grad * lr) / Math.sqrt(s - (mg * mg + eps));
      } else {
        adjusted = (grad * lr) / Math.sqrt(s + eps);
      }
      const m = x.m * beta + adjusted;
      return { w: x.w - m, s, m, mg };
    }
    case 'optax': {
      const s = (1 - rho) * grad * grad + rho * x.s;
      let mg = x.mg;
      let u: number;
      if (centered) {
        mg = (1 - rho) * grad + rho * x.mg;
        u = grad / Math.sqrt(s - mg * mg + eps);
      } else {
        u = grad / Math.sqrt(s + eps);
      }
      u = -lr * u;
      if (beta > 0) {
        const t = u + beta * -x.m; // optax's trace holds −m in this library's sign
        const update = c.nesterov ? u + beta * t : t;
        return { w: x.w + update, s, m: -t, mg };
      }
      return { w: x.w + u, s, m: x.m, mg };
    }
  }
}
