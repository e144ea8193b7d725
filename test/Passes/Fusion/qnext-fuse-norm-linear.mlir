// RUN: qnext-opt %s --qnext-fuse-norm-linear --split-input-file | FileCheck %s
// RUN: qnext-opt %s --qnext-fuse-norm-linear --qnext-fuse-add-norm --split-input-file | FileCheck %s --check-prefix=ADD
// RUN: qnext-opt %s --qnext-fuse-norm-linear --qnext-lower-to-linalg --resolve-ranked-shaped-type-result-dims --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4 prologue-tasks=2" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=KERNEL
// RUN: qnext-opt %s --qnext-lower-to-linalg --resolve-ranked-shaped-type-result-dims --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4 prologue-tasks=2" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=APART

// A residual add, then the norm one projection reads: the norm and the
// projection become a group, and qnext-fuse-add-norm leaves the norm alone.
// CHECK-LABEL: func.func @norm
// CHECK: %[[Y:.+]] = qnext.fused <norm_linear> : tensor<1x32xf32> {
// CHECK-NEXT: %[[N:.+]] = qnext.rms_norm
// CHECK-NEXT: %[[P:.+]] = qnext.linear %[[N]]
// CHECK-NEXT: qnext.yield %[[P]]
// ADD-LABEL: func.func @norm
// ADD-NOT: qnext.add_rms_norm
// ADD: return

// The kernel: the sum of squares stays (one value per token); the
// projection's 32 rows run as 2 tasks (prologue-tasks=2) of 16 rows, each
// normalising the token's 64 features once into its buffer (rsqrt and the
// zero-centred weight on vectors of 8, the per-token sum a splat), then 4
// blocks of 4 rows reading the buffer. The normalised activations have no
// tensor of their own.
// KERNEL-LABEL: func.func @norm
// KERNEL: linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]
// KERNEL: scf.forall (%{{.+}}) in (2) shared_outs(%{{.+}}) -> (tensor<1x32xf32>)
// KERNEL: %[[BUF:.+]] = scf.for %{{.+}} = %c0 to %c64 step %c8 iter_args(%{{.+}} = %{{.+}}) -> (tensor<1x64xf32>)
// KERNEL: tensor.extract %{{.+}}[%c0] : tensor<1xf32>
// KERNEL: vector.broadcast {{.+}} : f32 to vector<8xf32>
// KERNEL: math.rsqrt {{.+}} : vector<8xf32>
// KERNEL: arith.extf {{.+}} : vector<8xbf16> to vector<8xf32>
// KERNEL: vector.transfer_write {{.+}} : vector<8xf32>, tensor<1x64xf32>
// KERNEL: scf.for %{{.+}} = %c0 to %c16 step %c4 iter_args(%{{.+}} = %{{.+}}) -> (tensor<1x16xf32>)
// KERNEL: vector.transfer_read %[[BUF]]
// KERNEL-NOT: linalg.generic
// KERNEL: return

// Unfused: the norm is its own generic and the projection its own kernel.
// APART-LABEL: func.func @norm
// APART: math.rsqrt {{.+}} : f32
// APART: scf.forall (%{{.+}}) in (8)
func.func @norm(%a: tensor<1x64xf32>, %b: tensor<1x64xf32>) -> tensor<1x32xf32> {
  %nw = qnext.param "norm" : tensor<64xbf16>
  %w = qnext.param "proj" : tensor<32x64xbf16>
  %s = arith.addf %a, %b : tensor<1x64xf32>
  %n = qnext.rms_norm %s, %nw {epsilon = 1.0e-6 : f32} : tensor<1x64xf32>, tensor<64xbf16>
  %y = qnext.linear %n, %w : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

// DeltaNet's gated norm over [T, heads, dim], its heads merged into
// out_proj's K: grouped with the collapse and out_proj. Each of the 2 tasks takes the tokens in spans of 64:
// it computes the span's normalised rows once, token by token (the per-head
// sum read at (token, k / 32)), each written straight into its row of a
// [span, 64] buffer; then each block of its rows (8 rows, blocks of 2) runs
// over the span's tokens, 4 at a time and then the 1 to 3 left as one
// block, so a block's weights are read once per span.
// CHECK-LABEL: func.func @gated
// CHECK: qnext.fused <norm_linear>
// CHECK-NEXT: qnext.gated_rms_norm
// CHECK-NEXT: tensor.collapse_shape
// CHECK-NEXT: qnext.linear
// KERNEL-LABEL: func.func @gated
// KERNEL: scf.forall (%{{.+}}) in (2) shared_outs(%{{.+}}) -> (tensor<?x16xf32>)
// KERNEL: scf.for %[[S0:.+]] = %c0 to %{{.+}} step %c64 iter_args(%{{.+}}) -> (tensor<?x8xf32>)
// KERNEL: %[[BUF:.+]] = scf.for %[[T:.+]] = %[[S0]] to %{{.+}} step %c1 iter_args(%{{.+}}) -> (tensor<?x64xf32>)
// KERNEL: %[[ROW:.+]] = arith.subi %[[T]], %[[S0]]
// KERNEL: scf.for %[[K:.+]] = %c0 to %c64 step %c8 iter_args(%[[ROWS:.+]] = %{{.+}}) -> (tensor<?x64xf32>)
// KERNEL: arith.divui %{{.+}}, %c32
// KERNEL: math.exp {{.+}} : vector<8xf32>
// KERNEL: vector.transfer_write %{{.+}}, %[[ROWS]][%[[ROW]], %[[K]]] {{.+}} : vector<8xf32>, tensor<?x64xf32>
// KERNEL: scf.for %{{.+}} = %c0 to %c8 step %c2 iter_args(%{{.+}}) -> (tensor<?x8xf32>)
// KERNEL: scf.for %{{.+}} = %[[S0]] to %{{.+}} step %c4 iter_args(%{{.+}}) -> (tensor<?x8xf32>)
// KERNEL-COUNT-4: vector.transfer_read %[[BUF]]
// KERNEL: scf.index_switch %{{.+}} -> tensor<?x8xf32>
// KERNEL: case 3 {
// KERNEL-COUNT-3: vector.transfer_read %[[BUF]]
// KERNEL-NOT: tensor.collapse_shape
// KERNEL: return
func.func @gated(%x: tensor<?x2x32xf32>, %z: tensor<?x2x32xf32>) -> tensor<?x16xf32> {
  %nw = qnext.param "norm" : tensor<32xf32>
  %w = qnext.param "out_proj" : tensor<16x64xbf16>
  %n = qnext.gated_rms_norm %x, %z, %nw : tensor<?x2x32xf32>, tensor<32xf32>
  %m = tensor.collapse_shape %n [[0], [1, 2]] : tensor<?x2x32xf32> into tensor<?x64xf32>
  %y = qnext.linear %m, %w : tensor<?x64xf32>, tensor<16x64xbf16> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Left alone: a norm two projections read (the MoE's input), a norm read by
// something else too.
// CHECK-LABEL: func.func @negatives
// CHECK-NOT: qnext.fused
// CHECK: return
func.func @negatives(%x: tensor<1x64xf32>) -> (tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x64xf32>) {
  %nw = qnext.param "norm" : tensor<64xbf16>
  %w = qnext.param "proj" : tensor<32x64xbf16>
  %n = qnext.rms_norm %x, %nw {epsilon = 1.0e-6 : f32} : tensor<1x64xf32>, tensor<64xbf16>
  %0 = qnext.linear %n, %w : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %1 = qnext.linear %n, %w : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %m = qnext.rms_norm %x, %nw {epsilon = 1.0e-6 : f32} : tensor<1x64xf32>, tensor<64xbf16>
  %2 = qnext.linear %m, %w : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  return %0, %1, %2, %m : tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x64xf32>
}
