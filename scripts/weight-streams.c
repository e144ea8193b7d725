// weight-streams.c - how fast this machine streams bf16 weight rows, by the
// order a matvec block reads them in (a measurement aid, not part of qnext).
//
//   cc -O3 -mavx512f -mavx512bw -fopenmp scripts/weight-streams.c -o /tmp/ws
//   OMP_NUM_THREADS=2 /tmp/ws FILE      # FILE: at least 2 GiB, e.g. an artifact
//
// Sweeps 1 GiB of FILE (mmap, from offset 1 GiB) as rows of K bf16 values in
// blocks of R rows, the way qnext-vectorize-contractions' one-token kernels
// do: every 16 values widened to f32 (a 16-bit shift) and FMA'd with x. The
// orders:
//   interleaved  one K loop for the block, the R rows' vectors in turn
//   row-major    the block's rows one after the other, a K loop each
//   packed       the same as interleaved over a layout that stores each
//                block's rows interleaved in 32-byte pieces (not what qnext
//                stores; the bound a repacking would reach)
// Prints GB/s, the best of 4 sweeps. Run it a few times: a shared machine's
// bandwidth drifts.
#define _GNU_SOURCE
#include <fcntl.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

enum Order { Interleaved, RowMajor, Packed };
static const char *names[] = {"interleaved", "row-major", "packed"};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static __m512 widen(const char *p) {
  __m256i bits = _mm256_loadu_si256((const __m256i *)p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

static float sweep(const char *p, size_t n, int R, size_t K, enum Order order) {
  static float x[1 << 16];
  for (size_t i = 0; i < K; ++i)
    x[i] = 1e-3f;
  size_t rowBytes = K * 2, blockBytes = R * rowBytes, blocks = n / blockBytes;
  float total = 0;
#pragma omp parallel for schedule(guided) reduction(+ : total)
  for (size_t b = 0; b < blocks; ++b) {
    const char *block = p + b * blockBytes;
    __m512 acc[16];
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_setzero_ps();
    if (order == RowMajor) {
      for (int r = 0; r < R; ++r)
        for (size_t k = 0; k < K; k += 16)
          acc[r] = _mm512_fmadd_ps(widen(block + r * rowBytes + k * 2),
                                   _mm512_loadu_ps(x + k), acc[r]);
    } else {
      for (size_t k = 0; k < K; k += 16) {
        __m512 xv = _mm512_loadu_ps(x + k);
        for (int r = 0; r < R; ++r) {
          const char *w = order == Packed ? block + (k / 16) * R * 32 + r * 32
                                          : block + r * rowBytes + k * 2;
          acc[r] = _mm512_fmadd_ps(widen(w), xv, acc[r]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      total += _mm512_reduce_add_ps(acc[r]);
  }
  return total;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE (at least 2 GiB)\n", argv[0]);
    return 2;
  }
  const size_t n = (size_t)1 << 30;
  int fd = open(argv[1], O_RDONLY);
  const char *p = fd < 0 ? MAP_FAILED : mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, n);
  if (p == MAP_FAILED) {
    perror(argv[1]);
    return 1;
  }
  const size_t ks[] = {2048, 512};
  for (int i = 0; i < 2; ++i)
    for (int order = Interleaved; order <= Packed; ++order) {
      double best = 1e30;
      float sink = 0;
      for (int rep = 0; rep < 4; ++rep) {
        double t = now();
        sink += sweep(p, n, 8, ks[i], (enum Order)order);
        t = now() - t;
        best = t < best ? t : best;
      }
      printf("K=%zu R=8 %-11s %5.1f GB/s (%g)\n", ks[i], names[order], n / best / 1e9,
             sink);
    }
  return 0;
}
