// avb's optional native addon: single-precision matrix products through the system's BLAS
// (OpenBLAS), called by the wasm backend's BatchMatMul kernel on views of the wasm heap, so the
// operands are neither copied in nor out. Built by scripts/build-native.mjs (gcc, N-API, no
// node-gyp download); when it cannot be built, avb runs XNNPACK's kernels instead.
#include <cblas.h>
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

// sumRows(x, rows, d, out): out[j] = sum_i x[i d + j], the reduction over leading axes that
// every bias gradient is (tfjs-backend-wasm transposes such a reduction before summing).
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
  memset(out, 0, (size_t)d * sizeof(float));
  for (int32_t i = 0; i < rows; i++) {
    const float *row = x + (size_t)i * d;
    for (int32_t j = 0; j < d; j++) out[j] += row[j];
  }
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
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_default, NULL},
      {"sumRows", NULL, SumRows, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, 5, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
