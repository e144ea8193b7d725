// few-token-blocks.c - how fast this machine runs a projection of a few tokens
// (a verify call's 3, a batched step's experts' ~2.5) by the shape of the
// register block (a measurement aid, not part of qnext; needs AVX-512).
//
//   cc -O3 -march=native -fopenmp scripts/few-token-blocks.c -o /tmp/ftb
//   OMP_NUM_THREADS=2 /tmp/ftb
//
// The weights are lm_head's shape on the bench preset, N = 151936 rows of
// K = 2048 bf16 values (622 MB, in memory); the inputs f32, 3 tokens (1 for
// the decode-like rows). Every 16 weights are widened to f32 (a 16-bit shift)
// and FMA'd with each token's inputs, as qnext-vectorize-contractions'
// kernels do. The blocks:
//   decode         1 token, each row's K loop in turn (the one-token kernels)
//   interleaved-1  1 token, 4 rows' vectors in turn in one K loop
//   interleaved-3  3 tokens x 4 rows in one K loop (the prompt kernels')
//   rows-3         3 tokens, each row's K loop in turn
//   packed-3       3 tokens x 4 rows over a layout that stores a block's rows
//                  interleaved by vector: one stream (not what qnext stores)
//   chunked-3      packed-3 with K in chunks of 512 across 16 blocks, the
//                  accumulators kept between chunks, so that a chunk's inputs
//                  may stay in L1 (not what qnext stores)
// and, with the inputs confined to their first 256 values (always in L1;
// wrong sums, timing only), rows-3, interleaved-3 and packed-3 again.
// Prints the best of 6 sweeps a block, in ms. Run it a few times: a shared
// machine's bandwidth drifts.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { N = 151936, K = 2048, Chunk = 512, Blocks = 16 };

static uint16_t *W;  // row-major; packed-3 and chunked-3 read it as their own
static float *X, *Y; // X: 3 rows of K; Y: N sums a token

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static __m512 widen(const uint16_t *p) {
  __m256i bits = _mm256_loadu_si256((const __m256i *)p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

// One K step of 4 rows x 3 tokens: w[r] the rows' vectors, a[r][j] the sums.
static inline void step43(const uint16_t *w0, const uint16_t *w1, const uint16_t *w2,
                          const uint16_t *w3, const float *x, __m512 a[4][3]) {
  __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + K),
         x2 = _mm512_loadu_ps(x + 2 * K);
  const uint16_t *w[4] = {w0, w1, w2, w3};
  for (int r = 0; r < 4; ++r) {
    __m512 v = widen(w[r]);
    a[r][0] = _mm512_fmadd_ps(v, x0, a[r][0]);
    a[r][1] = _mm512_fmadd_ps(v, x1, a[r][1]);
    a[r][2] = _mm512_fmadd_ps(v, x2, a[r][2]);
  }
}

static void store43(long n0, __m512 a[4][3]) {
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 3; ++j)
      Y[(long)j * N + n0 + r] = _mm512_reduce_add_ps(a[r][j]);
}

static void decode(long n0, int mask) {
  (void)mask;
  for (int r = 0; r < 4; ++r) {
    const uint16_t *w = W + (n0 + r) * K;
    __m512 a = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16)
      a = _mm512_fmadd_ps(widen(w + k), _mm512_loadu_ps(X + k), a);
    Y[n0 + r] = _mm512_reduce_add_ps(a);
  }
}

static void interleaved1(long n0, int mask) {
  (void)mask;
  const uint16_t *w = W + n0 * K;
  __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                 _mm512_setzero_ps()};
  for (int k = 0; k < K; k += 16) {
    __m512 x = _mm512_loadu_ps(X + k);
    for (int r = 0; r < 4; ++r)
      a[r] = _mm512_fmadd_ps(widen(w + r * K + k), x, a[r]);
  }
  for (int r = 0; r < 4; ++r)
    Y[n0 + r] = _mm512_reduce_add_ps(a[r]);
}

static void interleaved3(long n0, int mask) {
  const uint16_t *w = W + n0 * K;
  __m512 a[4][3];
  for (int r = 0; r < 4; ++r)
    a[r][0] = a[r][1] = a[r][2] = _mm512_setzero_ps();
  for (int k = 0; k < K; k += 16)
    step43(w + k, w + K + k, w + 2 * K + k, w + 3 * K + k, X + (k & mask), a);
  store43(n0, a);
}

static void rows3(long n0, int mask) {
  for (int r = 0; r < 4; ++r) {
    const uint16_t *w = W + (n0 + r) * K;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0;
    for (int k = 0; k < K; k += 16) {
      __m512 v = widen(w + k);
      const float *x = X + (k & mask);
      a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(x), a0);
      a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + K), a1);
      a2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + 2 * K), a2);
    }
    Y[n0 + r] = _mm512_reduce_add_ps(a0);
    Y[(long)N + n0 + r] = _mm512_reduce_add_ps(a1);
    Y[2L * N + n0 + r] = _mm512_reduce_add_ps(a2);
  }
}

// Packed: block n0/4's K steps in order, each the 4 rows' 16 values.
static void packed3(long n0, int mask) {
  const uint16_t *p = W + n0 * K;
  __m512 a[4][3];
  for (int r = 0; r < 4; ++r)
    a[r][0] = a[r][1] = a[r][2] = _mm512_setzero_ps();
  for (int k = 0; k < K; k += 16, p += 64)
    step43(p, p + 16, p + 32, p + 48, X + (k & mask), a);
  store43(n0, a);
}

// A task of Blocks blocks: its region read in order as [chunk][block][step][row].
static void chunked3(long n0, int mask) {
  (void)mask;
  static __thread __m512 kept[Blocks][4][3];
  const uint16_t *p = W + n0 * K;
  for (int b = 0; b < Blocks; ++b)
    for (int r = 0; r < 4; ++r)
      kept[b][r][0] = kept[b][r][1] = kept[b][r][2] = _mm512_setzero_ps();
  for (int c = 0; c < K; c += Chunk)
    for (int b = 0; b < Blocks; ++b)
      for (int k = c; k < c + Chunk; k += 16, p += 64)
        step43(p, p + 16, p + 32, p + 48, X + k, kept[b]);
  for (int b = 0; b < Blocks; ++b)
    store43(n0 + 4 * b, kept[b]);
}

struct Block {
  const char *name;
  void (*run)(long, int);
  int rows; // rows a call
  int mask; // input index mask: K - 1 as they are, 255 confined
};

int main(void) {
  W = aligned_alloc(64, (size_t)N * K * 2);
  X = aligned_alloc(64, 3 * K * sizeof(float));
  Y = aligned_alloc(64, 3L * N * sizeof(float));
  if (!W || !X || !Y)
    return fprintf(stderr, "few-token-blocks: out of memory\n"), 1;
  for (size_t i = 0; i < (size_t)N * K; ++i)
    W[i] = 0x3f80 ^ (i & 7); // values near 1, every page touched
  for (int i = 0; i < 3 * K; ++i)
    X[i] = 1.0f / (i + 1);
  const struct Block blocks[] = {
      {"decode", decode, 4, K - 1},
      {"interleaved-1", interleaved1, 4, K - 1},
      {"interleaved-3", interleaved3, 4, K - 1},
      {"rows-3", rows3, 4, K - 1},
      {"packed-3", packed3, 4, K - 1},
      {"chunked-3", chunked3, 4 * Blocks, K - 1},
      {"rows-3, inputs in L1", rows3, 4, 255},
      {"interleaved-3, inputs in L1", interleaved3, 4, 255},
      {"packed-3, inputs in L1", packed3, 4, 255},
  };
  for (size_t i = 0; i < sizeof blocks / sizeof *blocks; ++i) {
    const struct Block *b = &blocks[i];
    double best = 1e9;
    for (int sweep = 0; sweep < 6; ++sweep) {
      double t0 = now();
#pragma omp parallel for schedule(guided)
      for (long n0 = 0; n0 < N; n0 += b->rows)
        b->run(n0, b->mask);
      double t = now() - t0;
      best = t < best ? t : best;
    }
    printf("%-28s %7.2f ms  %5.1f GB/s of weights\n", b->name, best * 1e3,
           (double)N * K * 2 / best / 1e9);
  }
  return 0;
}
