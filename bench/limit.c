/*
 * The independent memory-traffic limit of `npm run bench`: a small C program that shares nothing
 * with the addon (not its thread pool, chunking or dispatch). On arrays of its own of the same
 * size and dtype it times, with OpenMP threads that each take one contiguous range per step:
 *   - traffic: read w, s, m, g (and mg when centered), write w, s, m (and mg): the same bytes per
 *     element as a step, with trivial arithmetic;
 *   - fused: the real RMSProp update (docs/semantics.md §1) in plain C, auto-vectorized.
 * Two patterns: back to back (steps in a row) and after idle (a sleep between steps, as a
 * training loop computing gradients gives the optimizer). Prints one JSON line of medians in
 * nanoseconds per step.
 *
 *   limit <elements> <f32|f64|h16|h16m|dp> <plain|centered> <threads> <idle-ms> <samples>
 *
 * (h16: a 16-bit parameter and gradient with float32 state, h16m with a float32 master copy too;
 * traffic only, "fused" is null. dp: the bytes of one data-parallel float32 step with <threads>
 * ranks, one thread each (lib/distributed/optimizer.ts): each rank copies its gradients into its
 * exchange buffer; barrier; reduces its piece (reads every rank's buffer there, writes the mean);
 * streams the step's bytes over its piece (its own parameters, state of the piece, the mean);
 * copies the piece into the shared parameters; barrier; copies the other pieces into its own
 * parameters. Traffic only.)
 *
 * bench/run.js compiles it with `cc -O3 -march=native -fopenmp` (a benchmark of this machine,
 * never a shipped binary) into build-bench/.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void sleep_ms(double ms) {
  if (ms <= 0) return;
  struct timespec t = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
  nanosleep(&t, NULL);
}

static int compare(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof *v, compare);
  return v[n / 2];
}

/* The calling OpenMP thread's contiguous range of [0, n). */
static inline void thread_range(long n, long* begin, long* end) {
  const int t = omp_get_thread_num(), k = omp_get_num_threads();
  *begin = n * t / k;
  *end = n * (t + 1) / k;
}

#define DEFINE_KERNELS(T, SQRT)                                                                       \
  static void traffic_##T(T* w, T* s, T* m, T* mg, const T* g, long n, int centered) {             \
    _Pragma("omp parallel") {                                                                       \
      long begin, end;                                                                              \
      thread_range(n, &begin, &end);                                                                \
      if (centered) {                                                                               \
        for (long i = begin; i < end; ++i) {                                                        \
          const T x = g[i];                                                                         \
          w[i] += x; s[i] += x; m[i] += x; mg[i] += x;                                              \
        }                                                                                           \
      } else {                                                                                      \
        for (long i = begin; i < end; ++i) {                                                        \
          const T x = g[i];                                                                         \
          w[i] += x; s[i] += x; m[i] += x;                                                          \
        }                                                                                           \
      }                                                                                             \
    }                                                                                               \
  }                                                                                                 \
  static void fused_##T(T* w, T* s, T* m, T* mg, const T* g, long n, int centered, T lr, T rho,      \
                        T beta, T eps) {                                                            \
    _Pragma("omp parallel") {                                                                       \
      long begin, end;                                                                              \
      thread_range(n, &begin, &end);                                                                \
      if (centered) {                                                                               \
        for (long i = begin; i < end; ++i) {                                                        \
          const T x = g[i];                                                                         \
          const T s1 = rho * s[i] + (1 - rho) * x * x;                                              \
          const T mg1 = rho * mg[i] + (1 - rho) * x;                                                \
          const T d = s1 - mg1 * mg1 + eps;                                                         \
          const T m1 = beta * m[i] + lr * x / SQRT(d);                                              \
          const int ok = d > 0;                                                                     \
          s[i] = s1; mg[i] = mg1;                                                                   \
          m[i] = ok ? m1 : m[i];                                                                    \
          w[i] = ok ? w[i] - m1 : w[i];                                                             \
        }                                                                                           \
      } else {                                                                                      \
        for (long i = begin; i < end; ++i) {                                                        \
          const T x = g[i];                                                                         \
          const T s1 = rho * s[i] + (1 - rho) * x * x;                                              \
          const T m1 = beta * m[i] + lr * x / SQRT(s1 + eps);                                       \
          s[i] = s1; m[i] = m1; w[i] -= m1;                                                         \
        }                                                                                           \
      }                                                                                             \
    }                                                                                               \
  }

DEFINE_KERNELS(float, sqrtf)
DEFINE_KERNELS(double, sqrt)

/* Half precision (h16, h16m): the parameter and gradient 16-bit, the state float32 (and, with
 * master weights, a float32 master copy read and written too): traffic only. */
static void traffic_half(unsigned short* restrict w, float* restrict master, float* restrict s, float* restrict m,
                         float* restrict mg, const unsigned short* restrict g, long n, int centered) {
  _Pragma("omp parallel") {
    long begin, end;
    thread_range(n, &begin, &end);
    if (master) {
      if (centered) {
        _Pragma("omp simd")
        for (long i = begin; i < end; ++i) {
          const unsigned short x = g[i]; const float f = (float)x;
          w[i] += x; master[i] += f; s[i] += f; m[i] += f; mg[i] += f;
        }
      } else {
        _Pragma("omp simd")
        for (long i = begin; i < end; ++i) {
          const unsigned short x = g[i]; const float f = (float)x;
          w[i] += x; master[i] += f; s[i] += f; m[i] += f;
        }
      }
    } else if (centered) {
      _Pragma("omp simd")
      for (long i = begin; i < end; ++i) {
        const unsigned short x = g[i]; const float f = (float)x;
        w[i] += x; s[i] += f; m[i] += f; mg[i] += f;
      }
    } else {
      _Pragma("omp simd")
      for (long i = begin; i < end; ++i) {
        const unsigned short x = g[i]; const float f = (float)x;
        w[i] += x; s[i] += f; m[i] += f;
      }
    }
  }
}

#define RUN(T)                                                                                      \
  do {                                                                                              \
    T* buf[5];                                                                                      \
    for (int b = 0; b < 5; ++b) {                                                                   \
      buf[b] = aligned_alloc(64, ((size_t)n * sizeof(T) + 63) / 64 * 64);                           \
      if (!buf[b]) { fprintf(stderr, "out of memory\n"); return 1; }                                \
    }                                                                                               \
    T *w = buf[0], *s = buf[1], *m = buf[2], *mg = buf[3], *g = buf[4];                             \
    _Pragma("omp parallel for schedule(static)")                                                    \
    for (long i = 0; i < n; ++i) {                                                                  \
      w[i] = (T)0.5; s[i] = (T)1; m[i] = 0; mg[i] = 0; g[i] = (T)(sin((double)i + 0.5) * 0.01);     \
    }                                                                                               \
    for (int r = 0; r < 3; ++r) {                                                                   \
      traffic_##T(w, s, m, mg, g, n, centered);                                                     \
      fused_##T(w, s, m, mg, g, n, centered, (T)0.001, (T)0.9, (T)0.9, (T)1e-10);                   \
    }                                                                                               \
    for (int r = 0; r < samples; ++r) {                                                             \
      sleep_ms(idle_ms);                                                                            \
      double t0 = now_ns();                                                                         \
      traffic_##T(w, s, m, mg, g, n, centered);                                                     \
      traffic[r] = now_ns() - t0;                                                                   \
      sleep_ms(idle_ms);                                                                            \
      t0 = now_ns();                                                                                \
      fused_##T(w, s, m, mg, g, n, centered, (T)0.001, (T)0.9, (T)0.9, (T)1e-10);                   \
      fused[r] = now_ns() - t0;                                                                     \
    }                                                                                               \
    checksum = (double)w[n / 2] + (double)s[n / 3];                                                 \
    for (int b = 0; b < 5; ++b) free(buf[b]);                                                       \
  } while (0)

/* dp: see the file comment. Every array is one rank's own except `shared` (the gathered parameters). */
static double dp_run(long n, int ranks, int centered, double idle_ms, int samples, double* times) {
  float **g = malloc(sizeof(float*) * ranks), **slot = malloc(sizeof(float*) * ranks), **w = malloc(sizeof(float*) * ranks);
  float **s = malloc(sizeof(float*) * ranks), **m = malloc(sizeof(float*) * ranks), **mg = malloc(sizeof(float*) * ranks);
  float **piece = malloc(sizeof(float*) * ranks);
  float* shared = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64);
  double checksum = 0;
  _Pragma("omp parallel num_threads(ranks)") {
    const int t = omp_get_thread_num();
    const long b = n * t / ranks, e = n * (t + 1) / ranks, len = e - b;
    const size_t full = ((size_t)n * 4 + 63) / 64 * 64, part = ((size_t)len * 4 + 63) / 64 * 64;
    g[t] = aligned_alloc(64, full); slot[t] = aligned_alloc(64, full); w[t] = aligned_alloc(64, full);
    s[t] = aligned_alloc(64, part); m[t] = aligned_alloc(64, part); mg[t] = aligned_alloc(64, part); piece[t] = aligned_alloc(64, part);
    for (long i = 0; i < n; ++i) { g[t][i] = (float)(sin((double)i + t) * 0.01); w[t][i] = 0.5f; slot[t][i] = 0; shared[i] = 0; }
    for (long i = 0; i < len; ++i) { s[t][i] = 1; m[t][i] = 0; mg[t][i] = 0; }
    _Pragma("omp barrier")
    for (int r = -3; r < samples; ++r) {
      if (t == 0) sleep_ms(r >= 0 ? idle_ms : 0);
      _Pragma("omp barrier")
      const double t0 = now_ns();
      memcpy(slot[t], g[t], (size_t)n * 4);
      _Pragma("omp barrier")
      float* out = piece[t];
      const float inv = 1.0f / (float)ranks;
      const float* s0 = slot[0] + b;
      if (ranks == 2) {
        const float* s1 = slot[1] + b;
        _Pragma("omp simd")
        for (long i = 0; i < len; ++i) out[i] = (s0[i] + s1[i]) * inv;
      } else {
        _Pragma("omp simd")
        for (long i = 0; i < len; ++i) out[i] = s0[i];
      }
      for (int k = 1; k < ranks && ranks > 2; ++k) {
        const float* sk = slot[k] + b;
        _Pragma("omp simd")
        for (long i = 0; i < len; ++i) out[i] += sk[i];
      }
      if (ranks > 2) {
        _Pragma("omp simd")
        for (long i = 0; i < len; ++i) out[i] *= inv;
      }
      float *wt = w[t] + b, *st = s[t], *mt = m[t], *mgt = mg[t];
      if (centered) {
        _Pragma("omp simd")
        for (long i = 0; i < len; ++i) { const float x = out[i]; wt[i] += x; st[i] += x; mt[i] += x; mgt[i] += x; }
      } else {
        _Pragma("omp simd")
        for (long i = 0; i < len; ++i) { const float x = out[i]; wt[i] += x; st[i] += x; mt[i] += x; }
      }
      memcpy(shared + b, w[t] + b, (size_t)len * 4);
      _Pragma("omp barrier")
      for (int k = 0; k < ranks; ++k) {
        if (k == t) continue;
        const long kb = n * k / ranks, ke = n * (k + 1) / ranks;
        memcpy(w[t] + kb, shared + kb, (size_t)(ke - kb) * 4);
      }
      /* Rank 0's own time, as bench/distributed-rank.js times its step (not waiting for the others' last copies). */
      if (t == 0 && r >= 0) times[r] = now_ns() - t0;
      _Pragma("omp barrier")
    }
    _Pragma("omp barrier")
    _Pragma("omp atomic")
    checksum += (double)w[t][n / 2];
    _Pragma("omp barrier")
    free(g[t]); free(slot[t]); free(w[t]); free(s[t]); free(m[t]); free(mg[t]); free(piece[t]);
  }
  free(shared); free(g); free(slot); free(w); free(s); free(m); free(mg); free(piece);
  return checksum;
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: limit <elements> <f32|f64|h16|h16m> <plain|centered> <threads> <idle-ms> <samples>\n");
    return 2;
  }
  const long n = atol(argv[1]);
  const int f64 = strcmp(argv[2], "f64") == 0;
  const int half = strncmp(argv[2], "h16", 3) == 0;
  const int centered = strcmp(argv[3], "centered") == 0;
  const int threads = atoi(argv[4]);
  const double idle_ms = atof(argv[5]);
  const int samples = atoi(argv[6]);
  if (n < 1 || threads < 1 || samples < 1 || samples > 1000) return 2;
  omp_set_num_threads(threads);
  double traffic[1000], fused[1000], checksum = 0;
  if (strcmp(argv[2], "dp") == 0) {
    checksum = dp_run(n, threads, centered, idle_ms, samples, traffic);
    printf("{\"traffic\":%.1f,\"fused\":null,\"checksum\":%.6g}\n", median(traffic, samples), checksum);
    return 0;
  }
  if (half) {
    unsigned short* w = aligned_alloc(64, ((size_t)n * 2 + 63) / 64 * 64);
    unsigned short* g = aligned_alloc(64, ((size_t)n * 2 + 63) / 64 * 64);
    float* f[4];
    for (int b = 0; b < 4; ++b) f[b] = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64);
    if (!w || !g || !f[0] || !f[1] || !f[2] || !f[3]) { fprintf(stderr, "out of memory\n"); return 1; }
    float* master = strcmp(argv[2], "h16m") == 0 ? f[3] : NULL;
    _Pragma("omp parallel for schedule(static)")
    for (long i = 0; i < n; ++i) {
      w[i] = 0x3800; g[i] = (unsigned short)(i & 7); f[0][i] = 1; f[1][i] = 0; f[2][i] = 0; f[3][i] = 0.5f;
    }
    for (int r = 0; r < 3; ++r) traffic_half(w, master, f[0], f[1], f[2], g, n, centered);
    for (int r = 0; r < samples; ++r) {
      sleep_ms(idle_ms);
      const double t0 = now_ns();
      traffic_half(w, master, f[0], f[1], f[2], g, n, centered);
      traffic[r] = now_ns() - t0;
    }
    checksum = (double)w[n / 2] + (double)f[0][n / 3];
    free(w); free(g);
    for (int b = 0; b < 4; ++b) free(f[b]);
    printf("{\"traffic\":%.1f,\"fused\":null,\"checksum\":%.6g}\n", median(traffic, samples), checksum);
    return 0;
  }
  if (f64) {
    RUN(double);
  } else {
    RUN(float);
  }
  printf("{\"traffic\":%.1f,\"fused\":%.1f,\"checksum\":%.6g}\n", median(traffic, samples), median(fused, samples),
         checksum);
  return 0;
}
