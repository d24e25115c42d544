/*
 * The MPI plugin (see rmsprop_mpi.h): each function is one MPI call on MPI_COMM_WORLD. Built
 * where Open MPI's headers are found (CMake's FindMPI; Debian: libopenmpi-dev) and loaded by the
 * addon with dlopen. No logic lives here: the buckets, the mean and the finite check are the
 * addon's (binding/core/mpi_channel.cc).
 */
#include "../include/rmsprop_mpi.h"

#include <mpi.h>
#include <string.h>

#ifndef RMSPROP_MPI_ABI_VERSION_BUILT
#define RMSPROP_MPI_ABI_VERSION_BUILT RMSPROP_MPI_ABI_VERSION
#endif

static MPI_Datatype type_of(int dtype) {
  switch (dtype) {
    case RMSPROP_MPI_FLOAT32: return MPI_FLOAT;
    case RMSPROP_MPI_FLOAT64: return MPI_DOUBLE;
    case RMSPROP_MPI_UINT16: return MPI_UINT16_T;
    default: return MPI_BYTE;
  }
}

int rmsprop_mpi_abi_version(void) { return RMSPROP_MPI_ABI_VERSION_BUILT; }

int rmsprop_mpi_init(int* rank, int* size, int* thread_level) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, thread_level);
    if (rc != MPI_SUCCESS) return rc;
  } else {
    MPI_Query_thread(thread_level);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rc = MPI_Comm_rank(MPI_COMM_WORLD, rank);
  return rc != MPI_SUCCESS ? rc : MPI_Comm_size(MPI_COMM_WORLD, size);
}

int rmsprop_mpi_finalize(void) { return MPI_Finalize(); }

void rmsprop_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

int rmsprop_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

int rmsprop_mpi_allgather(const void* send, void* recv, int count, int dtype) {
  return MPI_Allgather(send, count, type_of(dtype), recv, count, type_of(dtype), MPI_COMM_WORLD);
}

int rmsprop_mpi_allgatherv(const void* send, int send_count, void* recv, const int* counts, const int* displs,
                           int dtype) {
  return MPI_Allgatherv(send, send_count, type_of(dtype), recv, counts, displs, type_of(dtype), MPI_COMM_WORLD);
}

int rmsprop_mpi_allgatherv_in_place(void* buffer, const int* counts, const int* displs, int dtype) {
  return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer, counts, displs, type_of(dtype), MPI_COMM_WORLD);
}

int rmsprop_mpi_reduce_scatter_sum(const void* send, void* recv, const int* counts, int dtype) {
  return MPI_Reduce_scatter(send, recv, counts, type_of(dtype), MPI_SUM, MPI_COMM_WORLD);
}

int rmsprop_mpi_allreduce_sum(const void* send, void* recv, int count, int dtype) {
  return MPI_Allreduce(send, recv, count, type_of(dtype), MPI_SUM, MPI_COMM_WORLD);
}

int rmsprop_mpi_allreduce_max_int(int* value) {
  return MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
}

void rmsprop_mpi_error_string(int code, char* out, int len) {
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (len <= 0) return;
  if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) length = 0;
  message[length < MPI_MAX_ERROR_STRING ? length : MPI_MAX_ERROR_STRING - 1] = '\0';
  strncpy(out, length > 0 ? message : "unknown MPI error", (size_t)len - 1);
  out[len - 1] = '\0';
}
