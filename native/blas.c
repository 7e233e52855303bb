// avb's optional native addon: single-precision matrix products through the system's BLAS
// (OpenBLAS), called by the wasm backend's BatchMatMul kernel on views of the wasm heap, so the
// operands are neither copied in nor out. Built by scripts/build-native.mjs (gcc, N-API, no
// node-gyp download); when it cannot be built, avb runs XNNPACK's kernels instead.
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

// Threads for large products; small ones run on one thread, where waking a second costs more
// than it saves (measured here: a 256x64x64 product takes 26 us on one thread, 70 us on two).
static int maxThreads = 1;
static int currentThreads = -1;
#define MULTITHREAD_WORK (4.0 * 1024 * 1024)

static void threadsFor(double work) {
  int want = work >= MULTITHREAD_WORK ? maxThreads : 1;
  if (want != currentThreads) {
    openblas_set_num_threads(want);
    currentThreads = want;
  }
}

#define CHECK(call)                                                                          \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      napi_throw_error(env, NULL, "avb_blas: bad arguments");                                \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

static int floats(napi_env env, napi_value v, float **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *raw;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, &buffer, &offset) != napi_ok ||
      type != napi_float32_array)
    return 0;
  *data = (float *)raw;
  return 1;
}

// sgemm(transA, transB, batch, m, n, k, A, strideA, B, strideB, C): for each batch index i,
// C[i] = op(A[i]) op(B[i]) with row-major operands; a stride of 0 broadcasts that operand.
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11) {
    napi_throw_error(env, NULL, "avb_blas.sgemm: expected 11 arguments");
    return NULL;
  }
  bool ta, tb;
  int32_t batch, m, n, k, sa, sb;
  CHECK(napi_get_value_bool(env, argv[0], &ta));
  CHECK(napi_get_value_bool(env, argv[1], &tb));
  CHECK(napi_get_value_int32(env, argv[2], &batch));
  CHECK(napi_get_value_int32(env, argv[3], &m));
  CHECK(napi_get_value_int32(env, argv[4], &n));
  CHECK(napi_get_value_int32(env, argv[5], &k));
  CHECK(napi_get_value_int32(env, argv[7], &sa));
  CHECK(napi_get_value_int32(env, argv[9], &sb));
  float *a, *b, *c;
  size_t la, lb, lc;
  if (!floats(env, argv[6], &a, &la) || !floats(env, argv[8], &b, &lb) ||
      !floats(env, argv[10], &c, &lc)) {
    napi_throw_type_error(env, NULL, "avb_blas.sgemm: operands must be Float32Arrays");
    return NULL;
  }
  if (batch < 1 || m < 1 || n < 1 || k < 1 || sa < 0 || sb < 0 ||
      la < (size_t)sa * (batch - 1) + (size_t)m * k || lb < (size_t)sb * (batch - 1) + (size_t)k * n ||
      lc < (size_t)batch * m * n) {
    napi_throw_range_error(env, NULL, "avb_blas.sgemm: an operand is smaller than its shape");
    return NULL;
  }
  threadsFor((double)batch * m * n * k);
  for (int32_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, 1.0f, a + (size_t)i * sa, ta ? m : k, b + (size_t)i * sb, tb ? k : n, 0.0f,
                c + (size_t)i * m * n, n);
  }
  return NULL;
}

static int doubles(napi_env env, napi_value v, double **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *raw;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, &buffer, &offset) != napi_ok ||
      type != napi_float64_array)
    return 0;
  *data = (double *)raw;
  return 1;
}

// dgemm(transA, transB, m, n, k, A, B, C, accumulate): C = op(A) op(B) (+ C when accumulate is
// 1), row-major doubles: the products of a model's design matrix with a batch of points in a
// batched log-density evaluation (src/modelling/autodiff.ts). One thread: such products are
// small, and each of avb's processes has its core.
static napi_value Dgemm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 9) {
    napi_throw_error(env, NULL, "avb_blas.dgemm: expected 9 arguments");
    return NULL;
  }
  bool ta, tb;
  int32_t m, n, k, acc;
  CHECK(napi_get_value_bool(env, argv[0], &ta));
  CHECK(napi_get_value_bool(env, argv[1], &tb));
  CHECK(napi_get_value_int32(env, argv[2], &m));
  CHECK(napi_get_value_int32(env, argv[3], &n));
  CHECK(napi_get_value_int32(env, argv[4], &k));
  CHECK(napi_get_value_int32(env, argv[8], &acc));
  double *a, *b, *c;
  size_t la, lb, lc;
  if (!doubles(env, argv[5], &a, &la) || !doubles(env, argv[6], &b, &lb) ||
      !doubles(env, argv[7], &c, &lc)) {
    napi_throw_type_error(env, NULL, "avb_blas.dgemm: operands must be Float64Arrays");
    return NULL;
  }
  if (m < 1 || n < 1 || k < 1 || la < (size_t)m * k || lb < (size_t)k * n ||
      lc < (size_t)m * n) {
    napi_throw_range_error(env, NULL, "avb_blas.dgemm: an operand is smaller than its shape");
    return NULL;
  }
  threadsFor(0);
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0, a, ta ? m : k, b, tb ? k : n, acc ? 1.0 : 0.0, c, n);
  return NULL;
}

// Geometry of a convolution: NHWC input [n, h, w, c], HWIO filter [fh, fw, c, o], NHWC output
// [n, oh, ow, o], strides, dilations and the top/left zero padding.
typedef struct {
  int32_t n, h, w, c, fh, fw, o, sh, sw, dh, dw, pt, pl, oh, ow;
} Conv;

// Row r of the im2col matrix (one output position) gathered from x, or scattered back into x
// (adding) when `back` is set.
static void im2colRow(const Conv *g, float *x, float *row, size_t pos, int back) {
  int32_t b = (int32_t)(pos / ((size_t)g->oh * g->ow));
  int32_t i = (int32_t)(pos / g->ow % g->oh);
  int32_t j = (int32_t)(pos % g->ow);
  for (int32_t p = 0; p < g->fh; p++) {
    int32_t u = i * g->sh + p * g->dh - g->pt;
    for (int32_t q = 0; q < g->fw; q++, row += g->c) {
      int32_t v = j * g->sw + q * g->dw - g->pl;
      int inside = u >= 0 && u < g->h && v >= 0 && v < g->w;
      float *px = inside ? x + (((size_t)b * g->h + u) * g->w + v) * g->c : NULL;
      if (back) {
        if (inside)
          for (int32_t k = 0; k < g->c; k++) px[k] += row[k];
      } else if (inside) {
        memcpy(row, px, (size_t)g->c * sizeof(float));
      } else {
        memset(row, 0, (size_t)g->c * sizeof(float));
      }
    }
  }
}

// conv2d(mode, x, [n, h, w, c], filter, [fh, fw, o], [sh, sw, dh, dw, padTop, padLeft],
// [oh, ow], y) with the im2col matrix X (one row per output position, one column per filter tap
// and input channel) built in blocks:
//   mode 0 (forward):          y = X W
//   mode 1 (input gradient):   x = col2im(dy W^T)    (x is written, y holds dy)
//   mode 2 (filter gradient):  W = X^T dy            (W is written, y holds dy)
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) {
    napi_throw_error(env, NULL, "avb_blas.conv2d: expected 8 arguments");
    return NULL;
  }
  int32_t mode;
  CHECK(napi_get_value_int32(env, argv[0], &mode));
  int32_t dims[15];
  napi_value arrays[4] = {argv[2], argv[4], argv[5], argv[6]};
  int counts[4] = {4, 3, 6, 2};
  int at = 0;
  for (int a = 0; a < 4; a++) {
    for (int i = 0; i < counts[a]; i++) {
      napi_value v;
      CHECK(napi_get_element(env, arrays[a], i, &v));
      CHECK(napi_get_value_int32(env, v, &dims[at++]));
    }
  }
  Conv g = {dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6],  dims[7],
            dims[8], dims[9], dims[10], dims[11], dims[12], dims[13], dims[14]};
  float *x, *f, *y;
  size_t lx, lf, ly;
  if (!floats(env, argv[1], &x, &lx) || !floats(env, argv[3], &f, &lf) ||
      !floats(env, argv[7], &y, &ly)) {
    napi_throw_type_error(env, NULL, "avb_blas.conv2d: tensors must be Float32Arrays");
    return NULL;
  }
  size_t kdim = (size_t)g.fh * g.fw * g.c;
  size_t rows = (size_t)g.n * g.oh * g.ow;
  if (mode < 0 || mode > 2 || g.n < 1 || g.h < 1 || g.w < 1 || g.c < 1 || g.fh < 1 ||
      g.fw < 1 || g.o < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.oh < 1 ||
      g.ow < 1 || lx < (size_t)g.n * g.h * g.w * g.c || lf < kdim * g.o || ly < rows * g.o) {
    napi_throw_range_error(env, NULL, "avb_blas.conv2d: a tensor is smaller than its shape");
    return NULL;
  }
  // Blocks of output positions bound the im2col buffer to about 16 MB.
  size_t block = (4u << 20) / kdim;
  if (block < 1) block = 1;
  if (block > rows) block = rows;
  float *col = malloc(block * kdim * sizeof(float));
  if (!col) {
    napi_throw_error(env, NULL, "avb_blas.conv2d: out of memory");
    return NULL;
  }
  threadsFor((double)rows * kdim * g.o);
  if (mode == 1) memset(x, 0, (size_t)g.n * g.h * g.w * g.c * sizeof(float));
  for (size_t r0 = 0; r0 < rows; r0 += block) {
    size_t nr = rows - r0 < block ? rows - r0 : block;
    if (mode != 1)
      for (size_t r = 0; r < nr; r++) im2colRow(&g, x, col + r * kdim, r0 + r, 0);
    if (mode == 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, g.o, (int)kdim, 1.0f, col,
                  (int)kdim, f, g.o, 0.0f, y + r0 * g.o, g.o);
    } else if (mode == 1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)kdim, g.o, 1.0f,
                  y + r0 * g.o, g.o, f, g.o, 0.0f, col, (int)kdim);
      for (size_t r = 0; r < nr; r++) im2colRow(&g, x, col + r * kdim, r0 + r, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, g.o, (int)nr, 1.0f, col,
                  (int)kdim, y + r0 * g.o, g.o, r0 == 0 ? 0.0f : 1.0f, f, g.o);
    }
  }
  free(col);
  return NULL;
}

// Element-wise loops below are compiled for AVX-512, AVX2 and the baseline, picked at load time
// by the CPU (GCC's function multi-versioning): the addon is built once and runs anywhere.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

// Lanes of independent partial sums for a reduction to few outputs: a single running sum is a
// chain of dependent additions (4 cycles each); 32 lanes let the CPU add whole vectors a cycle.
#define SUM_LANES 32

// ---------------------------------------------------------------------------------------------
// Element-wise work on several cores: a kernel's range of units (values, or rows) is cut into
// one contiguous chunk per thread, each chunk run by a fresh thread and the first by the caller.
// A thread costs ~30-60 us to start and join (measured here), so only ranges worth well over that are split
// (`minPerThread` units each); nothing waits or spins between kernels (OpenBLAS's own threads
// keep the cores to themselves during products).

#define MAX_SPLIT 64

typedef void (*RangeFn)(void *job, size_t from, size_t to);

typedef struct {
  RangeFn fn;
  void *job;
  size_t from, to;
} Chunk;

static void *runChunk(void *p) {
  Chunk *c = (Chunk *)p;
  c->fn(c->job, c->from, c->to);
  return NULL;
}

// Runs fn(job, from, to) over [0, units) in at most maxThreads chunks (chunk boundaries
// multiples of `align` units).
static void parallelRange(size_t units, size_t minPerThread, size_t align, RangeFn fn, void *job) {
  size_t t = (size_t)maxThreads;
  if (t > units / minPerThread) t = units / minPerThread;
  if (t > MAX_SPLIT) t = MAX_SPLIT;
  if (t <= 1) {
    fn(job, 0, units);
    return;
  }
  Chunk chunks[MAX_SPLIT];
  pthread_t ids[MAX_SPLIT];
  int started[MAX_SPLIT] = {0};
  for (size_t i = 0; i < t; i++) {
    size_t from = i == 0 ? 0 : (units * i / t) / align * align;
    size_t to = i == t - 1 ? units : (units * (i + 1) / t) / align * align;
    chunks[i] = (Chunk){fn, job, from, to};
  }
  for (size_t i = 1; i < t; i++) started[i] = pthread_create(&ids[i], NULL, runChunk, &chunks[i]) == 0;
  runChunk(&chunks[0]);
  for (size_t i = 1; i < t; i++) {
    if (started[i])
      pthread_join(ids[i], NULL);
    else
      runChunk(&chunks[i]);  // no thread to be had: run it here
  }
}

// Units per thread before a range is split. The transcendental kernels cost ~1 ns a value: an AIS
// transition at 2 threads went from 427 to 397 ms with them split. Cheap kernels (a compare, a
// multiply-add, Adam) are bound by memory: split, they gained nothing alone and lost in a
// training step (avb-mlp at 2 threads 68 -> 84 ms), so they run on one thread.
#define COSTLY_PER_THREAD (1u << 17)

VECTOR_CLONES
static float sumKernel(const float *x, size_t n) {
  float lanes[SUM_LANES] = {0};
  size_t i = 0;
  for (; i + SUM_LANES <= n; i += SUM_LANES)
    for (int l = 0; l < SUM_LANES; l++) lanes[l] += x[i + l];
  float total = 0;
  for (int l = 0; l < SUM_LANES; l++) total += lanes[l];
  for (; i < n; i++) total += x[i];
  return total;
}

VECTOR_CLONES
static void sumRowsKernel(const float *x, int32_t rows, int32_t d, float *out) {
  memset(out, 0, (size_t)d * sizeof(float));
  for (int32_t i = 0; i < rows; i++) {
    const float *row = x + (size_t)i * d;
    for (int32_t j = 0; j < d; j++) out[j] += row[j];
  }
}

VECTOR_CLONES
static float sumSquaresKernel(const float *x, size_t n) {
  float lanes[SUM_LANES] = {0};
  size_t i = 0;
  for (; i + SUM_LANES <= n; i += SUM_LANES)
    for (int l = 0; l < SUM_LANES; l++) lanes[l] += x[i + l] * x[i + l];
  float total = 0;
  for (int l = 0; l < SUM_LANES; l++) total += lanes[l];
  for (; i < n; i++) total += x[i] * x[i];
  return total;
}

VECTOR_CLONES
static void leakyReluKernel(const float *restrict x, float alpha, float *restrict y, size_t n) {
  // Written as a select of two values, not a branch: with random signs a branch mispredicts
  // half the time (4 ns a value measured here, against 0.1 ns vectorised).
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    y[i] = v > 0 ? v : alpha * v;
  }
}

VECTOR_CLONES
static void leakyReluGradKernel(const float *restrict x, const float *restrict dy, float alpha,
                                float *restrict dx, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float g = dy[i];
    dx[i] = x[i] > 0 ? g : alpha * g;
  }
}

// ---------------------------------------------------------------------------------------------
// Softplus, sigmoid, ELU and the Bernoulli log-likelihood: the algorithms of the wasm SIMD
// kernels (src/backend/simd/simdMath.wat, where each step is explained), written as plain loops
// that GCC vectorises 16 lanes wide on AVX-512 (4 in wasm SIMD). Accuracy: a few float32 ulps.

// exp(-a) for a >= 0: Cody-Waite reduction -a = k ln2 + r, a degree-7 polynomial for exp(r), 2^k
// from its exponent bits. a is clamped to 87 (2^k stays a normal float); a NaN a gives NaN.
static inline float expNeg(float a) {
  a = 87.f < a ? 87.f : a;
  float m = a * -1.44269504f + 12582912.f;
  float k = m - 12582912.f;
  float r = (-a - k * 0.693359375f) - k * -2.12194440e-4f;
  float p = 1.f + r * (1.f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
            r * (8.33333333e-3f + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
  int32_t bits;
  memcpy(&bits, &m, sizeof bits);
  bits = (bits - 0x4B3FFF81) << 23;
  float two;
  memcpy(&two, &bits, sizeof two);
  return p * two;
}

// softplus(v) = max(v, 0) + log1p(t), t = exp(-|v|), log1p(t) = 2 atanh(t / (2 + t)) as a series.
static inline float softplus1(float v) {
  float t = expNeg(fabsf(v));
  float u = t / (t + 2.f);
  float s = u * u;
  float series = 1.f + s * (3.33333333e-1f + s * (0.2f + s * (1.42857143e-1f + s * (1.11111111e-1f +
                 s * (9.09090909e-2f + s * 7.69230769e-2f)))));
  return (v < 0.f ? 0.f : v) + (u + u) * series;
}

// sigmoid(v) = 1 / (1 + t) for v >= 0, t / (1 + t) below, t = exp(-|v|): no overflow.
static inline float sigmoid1(float v) {
  float t = expNeg(fabsf(v));
  float s = 1.f / (t + 1.f);
  return v >= 0.f ? s : t * s;
}

VECTOR_CLONES
static void softplusKernel(const float *restrict x, float *restrict y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = softplus1(x[i]);
}

VECTOR_CLONES
static void softplusGradKernel(const float *restrict x, const float *restrict dy,
                               float *restrict dx, size_t n) {
  for (size_t i = 0; i < n; i++) dx[i] = dy[i] * sigmoid1(x[i]);
}

// elu(v) = v > 0 ? v : exp(v) - 1 (the cpu backend's formula); its gradient from the output y:
// dy for y > 0, dy (y + 1) below (tfjs's EluGrad).
VECTOR_CLONES
static void eluKernel(const float *restrict x, float *restrict y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    float e = expNeg(-v) - 1.f;
    y[i] = v > 0.f ? v : e;
  }
}

VECTOR_CLONES
static void eluGradKernel(const float *restrict y, const float *restrict dy, float *restrict dx,
                          size_t n) {
  for (size_t i = 0; i < n; i++) {
    float g = dy[i];
    dx[i] = y[i] > 0.f ? g : g * (y[i] + 1.f);
  }
}

// out[r] = sum_j x[r,j] l[r,j] - softplus(l[r,j]), in lanes of partial sums.
VECTOR_CLONES
static void bernoulliKernel(const float *restrict x, const float *restrict l, float *restrict out,
                            int32_t rows, int32_t d) {
  for (int32_t r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * d, *lr = l + (size_t)r * d;
    float lanes[SUM_LANES] = {0};
    int32_t j = 0;
    for (; j + SUM_LANES <= d; j += SUM_LANES)
      for (int q = 0; q < SUM_LANES; q++)
        lanes[q] += xr[j + q] * lr[j + q] - softplus1(lr[j + q]);
    float total = 0;
    for (int q = 0; q < SUM_LANES; q++) total += lanes[q];
    for (; j < d; j++) total += xr[j] * lr[j] - softplus1(lr[j]);
    out[r] = total;
  }
}

// g[r,j] = dy[r] (x[r,j] - sigmoid(l[r,j])).
VECTOR_CLONES
static void bernoulliGradKernel(const float *restrict x, const float *restrict l,
                                const float *restrict dy, float *restrict g, int32_t rows,
                                int32_t d) {
  for (int32_t r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * d, *lr = l + (size_t)r * d;
    float *gr = g + (size_t)r * d;
    float scale = dy[r];
    for (int32_t j = 0; j < d; j++) gr[j] = scale * (xr[j] - sigmoid1(lr[j]));
  }
}

// One Adam update (m' = m b1 + g c1, v' = v b2 + g^2 c2, w' = w - m' alpha / (sqrt(v') + eps)),
// the float32 operations of train/adam.ts in its order: the addon is compiled without
// contracting multiply-adds (-ffp-contract=off), so the results are the per-op values exactly.
VECTOR_CLONES
static void adamKernel(const float *restrict w, const float *restrict g, const float *restrict m,
                       const float *restrict v, float *restrict wo, float *restrict mo,
                       float *restrict vo, size_t n, const float *k) {
  const float alpha = k[0], b1 = k[1], c1 = k[2], b2 = k[3], c2 = k[4], eps = k[5];
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = m[i] * b1 + gi * c1;
    float vi = v[i] * b2 + (gi * gi) * c2;
    mo[i] = mi;
    vo[i] = vi;
    wo[i] = w[i] - (mi * alpha) / (sqrtf(vi) + eps);
  }
}

enum { OP_SOFTPLUS, OP_SOFTPLUS_GRAD, OP_ELU, OP_ELU_GRAD, OP_BERNOULLI, OP_BERNOULLI_GRAD };

// One call of a kernel that is split across threads: its operands (units are values, or rows of
// d values for the Bernoulli kernels).
typedef struct {
  int op;
  const float *x, *l, *dy;
  float *y;
  int32_t d;
} Job;

static void runJob(void *p, size_t from, size_t to) {
  Job *j = (Job *)p;
  size_t n = to - from, d = (size_t)j->d;
  switch (j->op) {
    case OP_SOFTPLUS: softplusKernel(j->x + from, j->y + from, n); break;
    case OP_SOFTPLUS_GRAD: softplusGradKernel(j->x + from, j->dy + from, j->y + from, n); break;
    case OP_ELU: eluKernel(j->x + from, j->y + from, n); break;
    case OP_ELU_GRAD: eluGradKernel(j->x + from, j->dy + from, j->y + from, n); break;
    case OP_BERNOULLI:
      bernoulliKernel(j->x + from * d, j->l + from * d, j->y + from, (int32_t)n, j->d);
      break;
    case OP_BERNOULLI_GRAD:
      bernoulliGradKernel(j->x + from * d, j->l + from * d, j->dy + from, j->y + from * d,
                          (int32_t)n, j->d);
      break;
  }
}

// sumRows(x, rows, d, out): out[j] = sum_i x[i d + j], the reduction over leading axes that
// every bias gradient is (tfjs-backend-wasm transposes such a reduction before summing), and
// with d = 1 a whole tensor's sum, in lanes of partial sums.
static napi_value SumRows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t rows, d;
  CHECK(napi_get_value_int32(env, argv[1], &rows));
  CHECK(napi_get_value_int32(env, argv[2], &d));
  float *x, *out;
  size_t lx, lo;
  if (argc != 4 || !floats(env, argv[0], &x, &lx) || !floats(env, argv[3], &out, &lo) ||
      rows < 0 || d < 1 || lx < (size_t)rows * d || lo < (size_t)d) {
    napi_throw_range_error(env, NULL, "avb_blas.sumRows: bad arguments");
    return NULL;
  }
  if (d == 1)
    out[0] = sumKernel(x, (size_t)rows);
  else
    sumRowsKernel(x, rows, d, out);
  return NULL;
}

// sumSquares(x, out, at): out[at] = sum_i x[i]^2 in one pass (a gradient's squared norm, read
// back each step to refuse a non-finite step), without the squared copy.
static napi_value SumSquares(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t at;
  float *x, *out;
  size_t lx, lo;
  if (argc != 3 || !floats(env, argv[0], &x, &lx) || !floats(env, argv[1], &out, &lo) ||
      napi_get_value_int32(env, argv[2], &at) != napi_ok || at < 0 || (size_t)at >= lo) {
    napi_throw_range_error(env, NULL, "avb_blas.sumSquares: bad arguments");
    return NULL;
  }
  out[at] = sumSquaresKernel(x, lx);
  return NULL;
}

// The operands x, y and (for a gradient) dy of an element-wise call, from argv[1...]: 0 unless
// they are Float32Arrays of one length, the last one given exactly when `grad`.
static int elementwiseOperands(napi_env env, napi_value *argv, size_t argc, int grad, float **x,
                               float **y, float **dy, size_t *n) {
  size_t ly, ldy;
  *dy = NULL;
  if (argc != (size_t)(grad ? 4 : 3) || !floats(env, argv[1], x, n) ||
      !floats(env, argv[2], y, &ly) || ly != *n)
    return 0;
  return !grad || (floats(env, argv[3], dy, &ldy) && ldy == *n);
}

// leakyRelu(alpha, x, y): y = x > 0 ? x : alpha x. With dy given, leakyRelu(alpha, x, dx, dy):
// its gradient dx = x > 0 ? dy : alpha dy (tfjs composes it of Greater, Multiply and Select,
// three passes and two temporaries, each a scalar loop on the wasm backend).
static napi_value LeakyRelu(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double alpha;
  float *x, *y, *dy;
  size_t n;
  if (argc < 3 || napi_get_value_double(env, argv[0], &alpha) != napi_ok ||
      !elementwiseOperands(env, argv, argc, argc == 4, &x, &y, &dy, &n)) {
    napi_throw_range_error(env, NULL, "avb_blas.leakyRelu: bad arguments");
    return NULL;
  }
  if (dy)
    leakyReluGradKernel(x, dy, (float)alpha, y, n);
  else
    leakyReluKernel(x, (float)alpha, y, n);
  return NULL;
}

// adam(w, g, m, v, wOut, mOut, vOut, [alpha, b1, c1, b2, c2, eps]): one Adam update of a
// weight into new buffers (tensors are immutable), c1 = 1 - b1 and c2 = 1 - b2 from the caller.
static napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *a[7], *k;
  size_t len[7], lk;
  int ok = argc == 8 && floats(env, argv[7], &k, &lk) && lk == 6;
  for (int i = 0; ok && i < 7; i++) ok = floats(env, argv[i], &a[i], &len[i]) && len[i] == len[0];
  if (!ok) {
    napi_throw_range_error(env, NULL, "avb_blas.adam: bad arguments");
    return NULL;
  }
  adamKernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], len[0], k);
  return NULL;
}

// unary(op, x, y[, dy]): op 0 softplus, 1 its gradient dy sigmoid(x), 2 elu, 3 elu's gradient
// (x is then elu's output). Every array of one length.
static napi_value Unary(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t op = -1;
  float *x, *y, *dy;
  size_t n;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 3 ||
      !elementwiseOperands(env, argv, argc, op == 1 || op == 3, &x, &y, &dy, &n)) {
    napi_throw_range_error(env, NULL, "avb_blas.unary: bad arguments");
    return NULL;
  }
  static const int ops[] = {OP_SOFTPLUS, OP_SOFTPLUS_GRAD, OP_ELU, OP_ELU_GRAD};
  Job job = {.op = ops[op], .x = x, .y = y, .dy = dy};
  parallelRange(n, COSTLY_PER_THREAD, 16, runJob, &job);
  return NULL;
}

// bernoulli(x, l, out, rows, d[, dy]): the per-row log-likelihood into out [rows]; with dy
// [rows], its gradient in the logits into out [rows, d].
static napi_value Bernoulli(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t rows = -1, d = -1;
  float *x, *l, *out, *dy = NULL;
  size_t lx, ll, lo, ldy = 0;
  if ((argc != 5 && argc != 6) || !floats(env, argv[0], &x, &lx) ||
      !floats(env, argv[1], &l, &ll) || !floats(env, argv[2], &out, &lo) ||
      napi_get_value_int32(env, argv[3], &rows) != napi_ok ||
      napi_get_value_int32(env, argv[4], &d) != napi_ok || rows < 0 || d < 1 ||
      lx != (size_t)rows * d || ll != lx ||
      lo != (argc == 6 ? lx : (size_t)rows) ||
      (argc == 6 && (!floats(env, argv[5], &dy, &ldy) || ldy != (size_t)rows))) {
    napi_throw_range_error(env, NULL, "avb_blas.bernoulli: bad arguments");
    return NULL;
  }
  Job job = {.op = dy ? OP_BERNOULLI_GRAD : OP_BERNOULLI, .x = x, .l = l, .dy = dy, .y = out,
             .d = d};
  size_t rowsPerThread = COSTLY_PER_THREAD / (size_t)d + 1;
  parallelRange((size_t)rows, rowsPerThread, 1, runJob, &job);
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t t;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &t));
  if (t >= 1) {
    maxThreads = t;
    openblas_set_num_threads(t);
    currentThreads = t;
  }
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  char text[512];
  snprintf(text, sizeof text, "%s|%s|%d", openblas_get_config(), openblas_get_corename(),
           maxThreads);
  napi_value out;
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"dgemm", NULL, Dgemm, NULL, NULL, NULL, napi_default, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_default, NULL},
      {"sumRows", NULL, SumRows, NULL, NULL, NULL, napi_default, NULL},
      {"sumSquares", NULL, SumSquares, NULL, NULL, NULL, napi_default, NULL},
      {"leakyRelu", NULL, LeakyRelu, NULL, NULL, NULL, napi_default, NULL},
      {"unary", NULL, Unary, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, AdamUpdate, NULL, NULL, NULL, napi_default, NULL},
      {"bernoulli", NULL, Bernoulli, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
