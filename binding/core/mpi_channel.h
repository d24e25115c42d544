// The MPI backend's native side (docs/ARCHITECTURE.md, "Data-parallel", "MPI"): the MPI plugin
// (include/rmsprop_mpi.h) loaded with dlopen, one thread that owns every MPI call, and the
// collectives of the data-parallel exchange built on the plugin's calls (buckets, the finite
// check). No Node here: binding/napi/mpi.cc gives it to JavaScript.
#ifndef RMSPROP_CORE_MPI_CHANNEL_H_
#define RMSPROP_CORE_MPI_CHANNEL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rmsprop::core {

// A collective that failed or did not complete in time. After a timeout the channel is broken:
// every later call throws the same error, and the process's exit aborts the MPI job.
class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One flat group of the exchange: `cuts` has size + 1 element offsets (rank r's piece is
// [cuts[r], cuts[r + 1])); dtype is one of RMSPROP_MPI_FLOAT32/FLOAT64/UINT16.
struct MpiGroup {
  void* send = nullptr;  // reduce: this rank's full-length gradients; gather: unused
  void* data = nullptr;  // reduce: this rank's piece of the mean; gather: the full-length buffer
  std::size_t length = 0;  // elements of `data`
  int dtype = 0;
  std::vector<std::size_t> cuts;
};

struct MpiWorld {
  int rank = 0;
  int size = 1;
  int thread_level = 0;
};

// Loads the plugin at `path` (once per process), starts the owner thread and runs MPI_Init on
// it. Throws MpiError with the loader's or MPI's message.
MpiWorld mpi_start(const std::string& path, double timeout_ms);

// Whether mpi_start succeeded in this process.
bool mpi_started();

// The collectives; each runs on the owner thread and waits at most timeout_ms (MpiError after).
void mpi_barrier(double timeout_ms);
// Every rank's bytes, in rank order.
std::vector<std::vector<std::uint8_t>> mpi_allgather_bytes(const std::uint8_t* data, std::size_t length, double timeout_ms);
// The sum over the ranks of every group's `send` (each rank's gradients already × 1/ranks, so
// the sum is the mean) into this rank's piece (`data`), in buckets of at most bucket_bytes;
// with `check`, returns whether every rank's piece is finite (one more small collective), else
// true.
bool mpi_reduce_mean(const std::vector<MpiGroup>& groups, std::size_t bucket_bytes, bool check, double timeout_ms);
// Not sharded: the sum over the ranks of every group's whole `send` (already × 1/ranks) into its
// whole `data` on every rank (MPI_Allreduce, in buckets), the same bits everywhere; with
// `check`, whether it is finite (every rank finds the same), else true.
bool mpi_allreduce_mean(const std::vector<MpiGroup>& groups, std::size_t bucket_bytes, bool check, double timeout_ms);
// Every rank's piece of each group's `data` (full length, own piece in place) to every rank.
void mpi_gather(const std::vector<MpiGroup>& groups, std::size_t bucket_bytes, double timeout_ms);

// The process's exit code, told when it is known (JavaScript's 'exit' event, which comes before
// Node prints an uncaught error). At the C runtime's exit (atexit, after Node printed it):
// MPI_Finalize when the channel is healthy and the code is 0 (and finalize completes within
// timeout_ms), else MPI_Abort(code or 1), which ends every rank. No exit code told: 1.
void mpi_set_exit_code(int code, double timeout_ms);

}  // namespace rmsprop::core

#endif  // RMSPROP_CORE_MPI_CHANNEL_H_
