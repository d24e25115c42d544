// The benchmark's memory-traffic baseline (the "same-pool limit" of bench/run.js): the CPU
// kernels' own loops, compiled a second time with RMSPROP_BENCH_STREAM into the bench addon
// (CMakeLists.txt, rmsprop_bench), with this update in place of RMSProp's. It loads and stores
// exactly what a step does (every buffer += g) and does almost no arithmetic, so a step through
// the same chunks, threads and N-API calls at this speed is bound only by memory traffic.
#pragma once
#include "../../binding/kernels/rmsprop_math.h"

namespace rmsprop {

template <class Ops, unsigned kV>
struct ElementUpdate {
  using V = typename Ops::V;
  static RMSPROP_LANE void plain(V& w, V& s, V& m, V g, const LaneScalars<V>&) {
    w = Ops::add(w, g);
    s = Ops::add(s, g);
    m = Ops::add(m, g);
  }
  static RMSPROP_LANE void centered(V& w, V& s, V& m, V& mg, V g, const LaneScalars<V>&) {
    mg = Ops::add(mg, g);
    plain(w, s, m, g, LaneScalars<V>{});
  }
};

}  // namespace rmsprop
