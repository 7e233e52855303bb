;; Elementwise float32 kernels for tfjs-backend-wasm, four lanes at a time (WebAssembly SIMD).
;;
;; Stock tfjs-backend-wasm computes Softplus with scalar libm calls (~14 ns per value here, 10x its
;; XNNPACK sigmoid), and a Bernoulli decoder's log-likelihood and its gradient take a dozen passes
;; over the [batch, pixels] logits. These kernels do each in one pass.
;;
;; Arguments are byte offsets into the imported memory (tfjs's wasm heap); counts are in values.
;;
;; Accuracy: a few float32 ulps (tested against double precision). Inputs are clamped to
;; |x| <= 87 inside exp, so exp(-|x|) never underflows below 2^-126: softplus(x) for x < -87 is
;; ~1.6e-38 instead of exp(x), sigmoid(x) ~1.6e-38 instead of exp(x); NaN in gives NaN out.
(module
  (import "env" "memory" (memory 0))

  ;; exp(-a) for a >= 0: Cody-Waite range reduction -a = k ln2 + r, |r| <= ln2/2 (ln2 split so
  ;; k * ln2_hi is exact), a degree-7 Taylor polynomial for exp(r) (truncation < 6e-9 relative)
  ;; and 2^k built from its exponent bits (k >= -126 after the clamp, so 2^k is a normal float).
  ;;
  ;; Written with single-instruction operations where the result is the same: pmin/pmax (NaN
  ;; inputs still give NaN here, see each use) instead of min/max, and rounding by adding and
  ;; subtracting 1.5 * 2^23 instead of nearest + trunc_sat (V8 expands those to several x86
  ;; instructions each): 1.5 * 2^23 + k keeps the integer k in its low mantissa bits.
  (func $exp_neg (param $a v128) (result v128) (local $m v128) (local $k v128) (local $r v128)
    ;; pmin(a, 87) = 87 < a ? 87 : a keeps a NaN a.
    (local.set $a (f32x4.pmin (local.get $a) (v128.const f32x4 87 87 87 87)))
    (local.set $m (f32x4.add
      (f32x4.mul (local.get $a) (v128.const f32x4 -1.44269504 -1.44269504 -1.44269504 -1.44269504))
      (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $k (f32x4.sub (local.get $m) (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $r (f32x4.sub
      (f32x4.sub (f32x4.neg (local.get $a))
        (f32x4.mul (local.get $k) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
      (f32x4.mul (local.get $k) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (f32x4.mul
      (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $r)
      (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $r)
      (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (local.get $r)
      (f32x4.add (v128.const f32x4 1.66666667e-1 1.66666667e-1 1.66666667e-1 1.66666667e-1) (f32x4.mul (local.get $r)
      (f32x4.add (v128.const f32x4 4.16666667e-2 4.16666667e-2 4.16666667e-2 4.16666667e-2) (f32x4.mul (local.get $r)
      (f32x4.add (v128.const f32x4 8.33333333e-3 8.33333333e-3 8.33333333e-3 8.33333333e-3) (f32x4.mul (local.get $r)
      (f32x4.add (v128.const f32x4 1.38888889e-3 1.38888889e-3 1.38888889e-3 1.38888889e-3) (f32x4.mul (local.get $r)
        (v128.const f32x4 1.98412698e-4 1.98412698e-4 1.98412698e-4 1.98412698e-4)))))))))))))))
      ;; 2^k: the exponent field k + 127; (bits(m) - bits(1.5 * 2^23)) = k, so bits(m) - 0x4B3FFF81.
      (i32x4.shl
        (i32x4.sub (local.get $m) (v128.const i32x4 0x4B3FFF81 0x4B3FFF81 0x4B3FFF81 0x4B3FFF81))
        (i32.const 23))))

  ;; softplus(v) = max(v, 0) + log1p(t), t = exp(-|v|) in (0, 1]; log1p(t) = 2 atanh(u) with
  ;; u = t / (2 + t) in (0, 1/3], an odd series through u^13 (truncation < 2e-8 relative), so a
  ;; tiny t keeps full relative precision.
  (func $softplus4 (param $v v128) (result v128) (local $t v128) (local $u v128) (local $s v128)
    (local.set $t (call $exp_neg (f32x4.abs (local.get $v))))
    (local.set $u (f32x4.div (local.get $t) (f32x4.add (local.get $t) (v128.const f32x4 2 2 2 2))))
    (local.set $s (f32x4.mul (local.get $u) (local.get $u)))
    (f32x4.add
      ;; pmax(v, 0) = v < 0 ? 0 : v keeps a NaN v.
      (f32x4.pmax (local.get $v) (v128.const f32x4 0 0 0 0))
      (f32x4.mul (f32x4.add (local.get $u) (local.get $u))
        (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $s)
        (f32x4.add (v128.const f32x4 3.33333333e-1 3.33333333e-1 3.33333333e-1 3.33333333e-1) (f32x4.mul (local.get $s)
        (f32x4.add (v128.const f32x4 0.2 0.2 0.2 0.2) (f32x4.mul (local.get $s)
        (f32x4.add (v128.const f32x4 1.42857143e-1 1.42857143e-1 1.42857143e-1 1.42857143e-1) (f32x4.mul (local.get $s)
        (f32x4.add (v128.const f32x4 1.11111111e-1 1.11111111e-1 1.11111111e-1 1.11111111e-1) (f32x4.mul (local.get $s)
        (f32x4.add (v128.const f32x4 9.09090909e-2 9.09090909e-2 9.09090909e-2 9.09090909e-2) (f32x4.mul (local.get $s)
          (v128.const f32x4 7.69230769e-2 7.69230769e-2 7.69230769e-2 7.69230769e-2))))))))))))))))

  ;; sigmoid(v) = 1 / (1 + t) for v >= 0 and t / (1 + t) below, t = exp(-|v|): no overflow.
  (func $sigmoid4 (param $v v128) (result v128) (local $t v128) (local $s v128)
    (local.set $t (call $exp_neg (f32x4.abs (local.get $v))))
    (local.set $s (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.add (local.get $t) (v128.const f32x4 1 1 1 1))))
    (v128.bitselect
      (local.get $s)
      (f32x4.mul (local.get $t) (local.get $s))
      (f32x4.ge (local.get $v) (v128.const f32x4 0 0 0 0))))

  ;; y[i] = softplus(x[i]) for n values, n a multiple of 4.
  (func (export "softplus") (param $x i32) (param $y i32) (param $n i32) (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $y) (call $softplus4 (v128.load (local.get $x))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br $next))))

  ;; Bernoulli log-likelihood of x [rows, d] under logits l [rows, d], summed per row:
  ;; out[r] = sum_j x[r,j] l[r,j] - softplus(l[r,j]). d a multiple of 4.
  (func (export "bernoulli_ll")
    (param $x i32) (param $l i32) (param $out i32) (param $rows i32) (param $d i32)
    (local $rowEnd i32) (local $end i32) (local $acc v128) (local $lv v128)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $rows) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $x) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $x) (local.get $rowEnd)))
            (local.set $lv (v128.load (local.get $l)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.sub (f32x4.mul (v128.load (local.get $x)) (local.get $lv))
                (call $softplus4 (local.get $lv)))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $l (i32.add (local.get $l) (i32.const 16)))
            (br $col)))
        (f32.store (local.get $out) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $row))))

  ;; Its gradient in the logits: g[r,j] = dy[r] (x[r,j] - sigmoid(l[r,j])). d a multiple of 4.
  (func (export "bernoulli_ll_grad")
    (param $x i32) (param $l i32) (param $dy i32) (param $g i32) (param $rows i32) (param $d i32)
    (local $rowEnd i32) (local $end i32) (local $scale v128)
    (local.set $end (i32.add (local.get $dy) (i32.shl (local.get $rows) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $dy) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $x) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $scale (f32x4.splat (f32.load (local.get $dy))))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $x) (local.get $rowEnd)))
            (v128.store (local.get $g) (f32x4.mul (local.get $scale)
              (f32x4.sub (v128.load (local.get $x)) (call $sigmoid4 (v128.load (local.get $l))))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $l (i32.add (local.get $l) (i32.const 16)))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (br $col)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (br $row))))

  ;; One Adam update of n values (n a multiple of 4), into new buffers (tensors are immutable):
  ;;   m' = m b1 + g c1,  v' = v b2 + g^2 c2,  w' = w - m' alpha / (sqrt(v') + eps)
  ;; with c1 = 1 - b1 and c2 = 1 - b2 computed by the caller, in the order of the per-op version
  ;; (train/adam.ts), so the results are the same float32 values, in one pass instead of twelve.
  (func (export "adam")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32)
    (param $wo i32) (param $mo i32) (param $vo i32) (param $n i32)
    (param $alpha f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $eps f32)
    (local $end i32) (local $gv v128) (local $mv v128) (local $vv v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128) (local $A v128)
    (local $E v128)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $A (f32x4.splat (local.get $alpha)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $gv (v128.load (local.get $g)))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (local.get $m)) (local.get $B1))
            (f32x4.mul (local.get $gv) (local.get $C1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (local.get $v)) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $C2))))
        (v128.store (local.get $mo) (local.get $mv))
        (v128.store (local.get $vo) (local.get $vv))
        (v128.store (local.get $wo)
          (f32x4.sub
            (v128.load (local.get $w))
            (f32x4.div
              (f32x4.mul (local.get $mv) (local.get $A))
              (f32x4.add (f32x4.sqrt (local.get $vv)) (local.get $E)))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $wo (i32.add (local.get $wo) (i32.const 16)))
        (local.set $mo (i32.add (local.get $mo) (i32.const 16)))
        (local.set $vo (i32.add (local.get $vo) (i32.const 16)))
        (br $next))))
)
