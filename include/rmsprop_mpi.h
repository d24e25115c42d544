/*
 * The MPI plugin's C interface (docs/ARCHITECTURE.md, "Data-parallel", "MPI").
 *
 * The addon never links MPI: this small shared library (librmsprop_mpi.so, mpi/rmsprop_mpi.c)
 * is linked against Open MPI's libmpi.so.40 and loaded with dlopen only when a script asks for
 * the 'mpi' backend, so that every other feature works where Open MPI is not installed. Every
 * function but rmsprop_mpi_abort is called from one thread of the addon (the MPI owner thread,
 * binding/core/mpi_channel.cc). Functions return 0 or an MPI error code
 * (rmsprop_mpi_error_string tells what it means). Counts are elements of `dtype`; the addon cuts
 * large buffers into buckets so that every count fits an int.
 */
#ifndef RMSPROP_MPI_H_
#define RMSPROP_MPI_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a signature or meaning below changes; the addon refuses another version. */
#define RMSPROP_MPI_ABI_VERSION 1

/* Element types of the buffers. */
#define RMSPROP_MPI_FLOAT32 0
#define RMSPROP_MPI_FLOAT64 1
#define RMSPROP_MPI_UINT16 2
#define RMSPROP_MPI_BYTE 3

#if defined(__GNUC__)
#define RMSPROP_MPI_EXPORT __attribute__((visibility("default")))
#else
#define RMSPROP_MPI_EXPORT
#endif

RMSPROP_MPI_EXPORT int rmsprop_mpi_abi_version(void);
/* MPI_Init_thread (asking for MPI_THREAD_MULTIPLE: rmsprop_mpi_abort may come from another
   thread) on MPI_COMM_WORLD, errors returned rather than fatal where MPI allows. */
RMSPROP_MPI_EXPORT int rmsprop_mpi_init(int* rank, int* size, int* thread_level);
RMSPROP_MPI_EXPORT int rmsprop_mpi_finalize(void);
/* MPI_Abort(MPI_COMM_WORLD, code): the whole job ends (any thread). */
RMSPROP_MPI_EXPORT void rmsprop_mpi_abort(int code);
RMSPROP_MPI_EXPORT int rmsprop_mpi_barrier(void);
/* `count` elements from every rank, in rank order, into recv (size * count elements). */
RMSPROP_MPI_EXPORT int rmsprop_mpi_allgather(const void* send, void* recv, int count, int dtype);
/* Every rank's send_count elements into recv at displs[rank] (counts[rank] elements). */
RMSPROP_MPI_EXPORT int rmsprop_mpi_allgatherv(const void* send, int send_count, void* recv, const int* counts,
                                              const int* displs, int dtype);
/* In place: rank r's counts[r] elements at buffer + displs[r] reach every rank's buffer. */
RMSPROP_MPI_EXPORT int rmsprop_mpi_allgatherv_in_place(void* buffer, const int* counts, const int* displs,
                                                       int dtype);
/* The element-wise sum over the ranks of send (sum of counts elements); this rank receives its
   block (counts[rank] elements, the blocks in rank order) in recv. Float types only. */
RMSPROP_MPI_EXPORT int rmsprop_mpi_reduce_scatter_sum(const void* send, void* recv, const int* counts, int dtype);
/* recv = the element-wise sum over the ranks of send (count elements, float types only); the
   same bits on every rank. */
RMSPROP_MPI_EXPORT int rmsprop_mpi_allreduce_sum(const void* send, void* recv, int count, int dtype);
/* *value = the largest *value over the ranks. */
RMSPROP_MPI_EXPORT int rmsprop_mpi_allreduce_max_int(int* value);
/* The message of an error code, into out (NUL-terminated, at most len bytes). */
RMSPROP_MPI_EXPORT void rmsprop_mpi_error_string(int code, char* out, int len);

#ifdef __cplusplus
}
#endif

#endif /* RMSPROP_MPI_H_ */
