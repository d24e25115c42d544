// The MPI backend's functions for JavaScript (lib/distributed/mpi.ts), over core::mpi_*
// (binding/core/mpi_channel.h).
#pragma once
#include <napi.h>

namespace rmsprop::napi {

// Adds mpiStart, mpiBarrier, mpiAllGatherBytes, mpiReduceMean, mpiAllReduceMean, mpiGather and
// mpiExit to `exports`.
void DefineMpi(Napi::Env env, Napi::Object exports);

}  // namespace rmsprop::napi
