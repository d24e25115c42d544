/*
 * The raw MPI baseline of `npm run bench -- --mpi` (bench/mpi.js): a plain C program calling
 * Open MPI directly, on buffers of the same sizes as the library's exchange, with no library
 * code in between. Usage (under mpirun): mpi_raw <elements> <block|v|allreduce> <samples>.
 *   block:     MPI_Reduce_scatter_block (float32 sum) + MPI_Allgather of the pieces
 *   v:         MPI_Reduce_scatter (float32 sum, counts per rank) + MPI_Allgatherv in place (the
 *              calls the plugin makes for a sharded step)
 *   allreduce: MPI_Allreduce (float32 sum)
 * Rank 0 prints {"ns": median nanoseconds of one exchange}. Each sample starts after a barrier.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 4) {
    if (rank == 0) fprintf(stderr, "usage: mpi_raw <elements> <block|v|allreduce> <samples>\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  long n = atol(argv[1]);
  int block = strcmp(argv[2], "block") == 0;
  int v = strcmp(argv[2], "v") == 0;
  int samples = atoi(argv[3]);
  int piece = (int)(n / size);
  n = (long)piece * size;
  float* send = malloc(sizeof(float) * n);
  float* recv = malloc(sizeof(float) * n);
  float* mine = malloc(sizeof(float) * piece);
  for (long j = 0; j < n; j++) send[j] = (float)((j % 1000) * 0.001 + rank);
  double* times = malloc(sizeof(double) * samples);
  int* counts = malloc(sizeof(int) * size);
  int* displs = malloc(sizeof(int) * size);
  for (int r = 0; r < size; r++) {
    counts[r] = piece;
    displs[r] = r * piece;
  }
  for (int k = -3; k < samples; k++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (block) {
      MPI_Reduce_scatter_block(send, mine, piece, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      MPI_Allgather(mine, piece, MPI_FLOAT, recv, piece, MPI_FLOAT, MPI_COMM_WORLD);
    } else if (v) {
      MPI_Reduce_scatter(send, recv + (long)rank * piece, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
    } else {
      MPI_Allreduce(send, recv, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    double t1 = MPI_Wtime();
    if (k >= 0) times[k] = (t1 - t0) * 1e9;
  }
  qsort(times, samples, sizeof(double), compare);
  if (rank == 0) printf("{\"ns\": %.0f}\n", times[samples / 2]);
  free(send);
  free(recv);
  free(mine);
  free(times);
  free(counts);
  free(displs);
  MPI_Finalize();
  return 0;
}
