// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="token-rows=2" --canonicalize --cse | FileCheck %s
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 token-rows=2 activations=bf16" --canonicalize --cse | FileCheck %s --check-prefix=BF16
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="token-rows=4" --canonicalize --cse | FileCheck %s --check-prefix=QUANT

// Gathers of rows (several tokens' routed experts, rows sorted by expert):
// y[p, n] = sum_k x[p, k] * W[sel[p], n, k]. One forall over chunks of
// weight rows (here 8 / 2: four of 2); each task runs through the rows: a
// row that starts a block (it is the row after the previous block) reads its
// expert id, counts how many of the next rows name the same expert (at most
// token-rows = 2 in all), slices that expert's [N, K] out of the stack and
// computes the block, one case per count. Rows of 32 (short: below 1024)
// run one weight row after the other, each vector of it used for every row
// of the block.

#rx = affine_map<(p, n, k) -> (p, k)>
#rs = affine_map<(p, n, k) -> (p)>
#ry = affine_map<(p, n, k) -> (p, n)>

// CHECK-LABEL: func.func @row_gather_short
// CHECK-SAME: (%[[X:.+]]: tensor<?x32xf32>, %[[SEL:.+]]: tensor<?xi32>, %[[W:.+]]: tensor<4x8x32xbf16>)
// CHECK: %[[P:.+]] = tensor.dim %[[X]], %c0
// CHECK: scf.forall (%[[TASK:.+]]) in (4)
// CHECK: %[[N0:.+]] = arith.muli %[[TASK]], %c2
// CHECK: scf.for %[[ROW:[a-z0-9_]+]] = %c0 to %[[P]] step %c1 iter_args(%{{.+}} = %{{.+}}, %[[NEXT:[a-z0-9_]+]] = %c0)
// CHECK: %[[STARTS:.+]] = arith.cmpi eq, %[[ROW]], %[[NEXT]]
// CHECK: scf.if %[[STARTS]]
// CHECK: %[[ID:.+]] = tensor.extract %[[SEL]][%[[ROW]]]
// CHECK: %[[ROW1:.+]] = arith.addi %[[ROW]], %c1
// CHECK: %[[INSIDE:.+]] = arith.cmpi ult, %[[ROW1]], %[[P]]
// CHECK: %[[ID1:.+]] = tensor.extract %[[SEL]]
// CHECK: %[[SAME:.+]] = arith.cmpi eq, %[[ID1]], %[[ID]]
// CHECK: arith.andi %[[INSIDE]], %[[SAME]]
// CHECK: %[[LEN:.+]] = arith.addi %{{.+}}, %c1
// CHECK: %[[EX:.+]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[EW:.+]] = tensor.extract_slice %[[W]][%[[EX]], 0, 0] [1, 8, 32] [1, 1, 1]
// CHECK: scf.index_switch %[[LEN]]
// CHECK: case 1 {
// CHECK: case 2 {
// CHECK: scf.for %{{.+}} = %c0 to %c2 step %c1 iter_args({{.+}}) -> (vector<2xf32>, vector<2xf32>)
// CHECK: scf.for %{{.+}} = %c0 to %c32 step %c8 iter_args({{.+}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.transfer_read %[[EW]]
// CHECK: vector.transfer_read %[[X]][%[[ROW]],
// CHECK: vector.fma
// CHECK: vector.transfer_read %[[X]][%[[ROW1]],
// CHECK: vector.fma
// CHECK: default {
// CHECK: arith.addi %[[ROW]], %{{.+}}
// CHECK: tensor.parallel_insert_slice %{{.+}} into %{{.+}}[0, %[[N0]]] [%[[P]], 2] [1, 1]
// CHECK-NOT: linalg.generic
// BF16-LABEL: func.func @row_gather_short
// BF16: scf.forall
// BF16: x86vector.avx512.dot {{.+}} : vector<32xbf16> -> vector<16xf32>
// BF16: return
func.func @row_gather_short(%x: tensor<?x32xf32>, %sel: tensor<?xi32>, %w: tensor<4x8x32xbf16>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %p = tensor.dim %x, %c0 : tensor<?x32xf32>
  %e = tensor.empty(%p) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = [#rx, #rs, #ry], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<?x32xf32>, tensor<?xi32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %wv = tensor.extract %w[%ex, %n, %k] : tensor<4x8x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %m = arith.mulf %a, %wf : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Rows of 1024 values: a block of two rows keeps 2 x 2 accumulators in one
// K loop (each weight vector loaded once for both rows, the two weight rows
// interleaved). With activations=bf16 every row is rounded to bf16 once,
// before the forall, and the blocks multiply pairs with vdpbf16ps.

#rx = affine_map<(p, n, k) -> (p, k)>
#rs = affine_map<(p, n, k) -> (p)>
#ry = affine_map<(p, n, k) -> (p, n)>

// CHECK-LABEL: func.func @row_gather_long
// CHECK: scf.forall
// CHECK: case 2 {
// CHECK: scf.for %{{.+}} = %c0 to %c1024 step %c8 iter_args({{.+}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-4: vector.reduction <add>
// BF16-LABEL: func.func @row_gather_long
// BF16-SAME: (%[[X:.+]]: tensor<?x1024xf32>,
// BF16: %[[P:.+]] = tensor.dim %[[X]], %c0
// BF16: %[[ROUNDED:.+]] = scf.for %{{.+}} = %c0 to %[[P]] {{.+}} -> (tensor<?x1024xbf16>)
// BF16: arith.truncf %{{.+}} : vector<32xf32> to vector<32xbf16>
// BF16: scf.forall
// BF16: case 2 {
// BF16: vector.transfer_read %[[ROUNDED]]
// BF16: x86vector.avx512.dot
func.func @row_gather_long(%x: tensor<?x1024xf32>, %sel: tensor<?xi32>, %w: tensor<4x8x1024xbf16>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %p = tensor.dim %x, %c0 : tensor<?x1024xf32>
  %e = tensor.empty(%p) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = [#rx, #rs, #ry], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<?x1024xf32>, tensor<?xi32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %wv = tensor.extract %w[%ex, %n, %k] : tensor<4x8x1024xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %m = arith.mulf %a, %wf : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A tagged silu * mul over two gathers of rows (gate and up of the same rows
// and selector) is their epilogue: one kernel, the SwiGLU applied to each
// block's rows in registers, the two contractions never materialised.

#rx = affine_map<(p, n, k) -> (p, k)>
#rs = affine_map<(p, n, k) -> (p)>
#ry = affine_map<(p, n, k) -> (p, n)>
#id = affine_map<(p, n) -> (p, n)>

// CHECK-LABEL: func.func @row_gather_pair
// CHECK-SAME: (%[[X:.+]]: tensor<?x32xf32>, %[[SEL:.+]]: tensor<?xi32>, %[[G:.+]]: tensor<4x8x32xbf16>, %[[U:.+]]: tensor<4x8x32xbf16>)
// CHECK: scf.forall
// CHECK: tensor.extract_slice %[[G]]
// CHECK: tensor.extract_slice %[[U]]
// CHECK: case 1 {
// CHECK: math.exp {{.+}} : vector<
// CHECK: tensor.parallel_insert_slice
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @row_gather_pair(%x: tensor<?x32xf32>, %sel: tensor<?xi32>, %wg: tensor<4x8x32xbf16>, %wu: tensor<4x8x32xbf16>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %p = tensor.dim %x, %c0 : tensor<?x32xf32>
  %e = tensor.empty(%p) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %g = linalg.generic {indexing_maps = [#rx, #rs, #ry], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<?x32xf32>, tensor<?xi32>) outs(%init : tensor<?x8xf32>) attrs = {qnext.fusion = #qnext.fusion<moe>} {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %wv = tensor.extract %wg[%ex, %n, %k] : tensor<4x8x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %m = arith.mulf %a, %wf : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %init2 = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %u = linalg.generic {indexing_maps = [#rx, #rs, #ry], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<?x32xf32>, tensor<?xi32>) outs(%init2 : tensor<?x8xf32>) attrs = {qnext.fusion = #qnext.fusion<moe>} {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %wv = tensor.extract %wu[%ex, %n, %k] : tensor<4x8x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %m = arith.mulf %a, %wf : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %h = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) attrs = {qnext.fusion = #qnext.fusion<moe>} {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %neg = arith.negf %a : f32
    %ex = math.exp %neg : f32
    %den = arith.addf %one, %ex : f32
    %sig = arith.divf %one, %den : f32
    %s = arith.mulf %a, %sig : f32
    %r = arith.mulf %s, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %h : tensor<?x8xf32>
}

// -----

// A gather of rows that adds to an init other than zero is not a kernel's:
// left to the scalar path.

#rx = affine_map<(p, n, k) -> (p, k)>
#rs = affine_map<(p, n, k) -> (p)>
#ry = affine_map<(p, n, k) -> (p, n)>

// CHECK-LABEL: func.func @row_gather_into_init
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @row_gather_into_init(%x: tensor<?x32xf32>, %sel: tensor<?xi32>, %w: tensor<4x8x32xbf16>, %init: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = linalg.generic {indexing_maps = [#rx, #rs, #ry], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<?x32xf32>, tensor<?xi32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %wv = tensor.extract %w[%ex, %n, %k] : tensor<4x8x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %m = arith.mulf %a, %wf : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A quantized stack (int8 in groups of 32): each block slices its expert's
// values and scales, and decodes in registers; no dequantized weight is
// left. Rows of 1024 interleave the block's 2 weight rows for runs of up to
// token-rows = 4 tokens (1 to 4): the K loop of each group sums
// the products of unscaled values from zero, and each token's and row's
// sum is multiplied by the row's scale once, at the group's end.

#rx = affine_map<(p, n, k) -> (p, k)>
#rs = affine_map<(p, n, k) -> (p)>
#ry = affine_map<(p, n, k) -> (p, n)>

// QUANT-LABEL: func.func @row_gather_int8
// QUANT-SAME: (%[[X:.+]]: tensor<?x1024xf32>, %[[SEL:.+]]: tensor<?xi32>, %[[Q:.+]]: tensor<4x8x1024xi8>, %[[S:.+]]: tensor<4x8x32xf32>)
// QUANT-NOT: qnext.dequantize
// QUANT: scf.forall
// QUANT: %[[EX:.+]] = arith.index_cast %{{.+}} : i32 to index
// QUANT-DAG: %[[QE:.+]] = tensor.extract_slice %[[Q]][%[[EX]], 0, 0] [1, 8, 1024] [1, 1, 1]
// QUANT-DAG: %[[SE:.+]] = tensor.extract_slice %[[S]][%[[EX]], 0, 0] [1, 8, 32] [1, 1, 1]
// QUANT: case 1 {
// QUANT: case 2 {
// QUANT: case 3 {
// QUANT: case 4 {
// QUANT: scf.for {{.+}} step %c32 {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// QUANT: tensor.extract %[[SE]]
// QUANT: %[[SPLAT:.+]] = vector.broadcast
// QUANT: %[[SUMS:.+]]:8 = scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// QUANT: vector.transfer_read %[[QE]]
// QUANT: arith.extsi
// QUANT-NOT: arith.mulf
// QUANT: scf.yield
// QUANT: vector.fma %[[SUMS]]#0, %[[SPLAT]]
// QUANT-NOT: case 5
// QUANT-NOT: qnext.dequantize
// QUANT: return
func.func @row_gather_int8(%x: tensor<?x1024xf32>, %sel: tensor<?xi32>, %q: tensor<4x8x1024xi8>, %s: tensor<4x8x32xf32>) -> tensor<?x8xf32> {
  %w = qnext.dequantize %q, %s {group = 32 : i64} : tensor<4x8x1024xi8>, tensor<4x8x32xf32> -> tensor<4x8x1024xf32>
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %p = tensor.dim %x, %c0 : tensor<?x1024xf32>
  %e = tensor.empty(%p) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = [#rx, #rs, #ry], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<?x1024xf32>, tensor<?xi32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %wv = tensor.extract %w[%ex, %n, %k] : tensor<4x8x1024xf32>
    %m = arith.mulf %a, %wv : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
