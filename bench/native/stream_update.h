// The benchmark's memory-traffic baseline (the "same-pool limit" of bench/run.js): an update
// policy for the CPU kernels' own loops (binding/kernels/kernel_loop.h), which the benchmark's
// kernel tables (stream_kernels_<level>.cc, built into the bench addon: CMakeLists.txt,
// rmsprop_bench) run in place of RMSProp's. It loads and stores exactly what a step does (every
// buffer += g) and does almost no arithmetic, so a step through the same chunks, threads and
// N-API calls at this speed is bound only by memory traffic.
#pragma once
#include "../../include/rmsprop_math.h"

namespace rmsprop {

struct StreamUpdate {
  template <class Ops, unsigned kV, class V = typename Ops::V>
  static RMSPROP_LANE void plain(V& w, V& s, V& m, V g, const LaneScalars<V>&) {
    w = Ops::add(w, g);
    s = Ops::add(s, g);
    m = Ops::add(m, g);
  }
  template <class Ops, unsigned kV, class V = typename Ops::V>
  static RMSPROP_LANE void centered(V& w, V& s, V& m, V& mg, V g, const LaneScalars<V>& c) {
    mg = Ops::add(mg, g);
    plain<Ops, kV>(w, s, m, g, c);
  }
};

}  // namespace rmsprop
