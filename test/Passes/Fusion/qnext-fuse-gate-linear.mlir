// RUN: qnext-opt %s --qnext-fuse-gate-linear --split-input-file | FileCheck %s
// RUN: qnext-opt %s --qnext-fuse-gate-linear --qnext-lower-to-linalg --resolve-ranked-shaped-type-result-dims --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=KERNEL
// RUN: qnext-opt %s --qnext-lower-to-linalg --resolve-ranked-shaped-type-result-dims --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=APART

// Gated attention's output: the heads gated by sigmoid(gate), merged, then
// o_proj. The gate, the merge and o_proj become a group; o_proj's kernel (64 rows: 16 blocks of 4, so
// 16 tasks of one block with the default prologue-tasks) computes the
// gated heads for its token into a buffer, one vector of 8 along K at a
// time (the vector stays inside a head of 32), and reads them from there.
// CHECK-LABEL: func.func @o_proj
// CHECK: qnext.fused <gate_linear> : tensor<1x64xf32> {
// CHECK-NEXT: %[[G:.+]] = qnext.sigmoid_gate %{{.+}}, %{{.+}} : tensor<1x4x32xf32>, tensor<1x4x32xf32>
// CHECK-NEXT: tensor.collapse_shape %[[G]]
// KERNEL-LABEL: func.func @o_proj
// KERNEL-SAME: (%[[A:.+]]: tensor<1x4x32xf32>, %[[GATE:.+]]: tensor<1x4x32xf32>)
// KERNEL: scf.forall (%{{.+}}) in (16) shared_outs(%{{.+}}) -> (tensor<1x64xf32>)
// KERNEL: %[[BUF:.+]] = scf.for %[[K:.+]] = %c0 to %c128 step %c8 iter_args(%{{.+}} = %{{.+}}) -> (tensor<1x128xf32>)
// KERNEL: %[[D:.+]] = arith.remui %[[K]], %c32
// KERNEL: %[[H:.+]] = arith.divui %[[K]], %c32
// KERNEL: vector.transfer_read %[[A]][%c0, %[[H]], %[[D]]]
// KERNEL: vector.transfer_read %[[GATE]][%c0, %[[H]], %[[D]]]
// KERNEL: math.exp {{.+}} : vector<8xf32>
// KERNEL: vector.transfer_write
// KERNEL: scf.for {{.+}} -> (vector<8xf32>)
// KERNEL: vector.transfer_read %[[BUF]]
// KERNEL-NOT: linalg.generic
// KERNEL-NOT: tensor.collapse_shape
// KERNEL: return
// APART-LABEL: func.func @o_proj
// APART: linalg.generic
// APART: math.exp {{.+}} : f32
// APART: tensor.collapse_shape
// APART: scf.forall (%{{.+}}) in (16)
func.func @o_proj(%a: tensor<1x4x32xf32>, %g: tensor<1x4x32xf32>) -> tensor<1x64xf32> {
  %w = qnext.param "o_proj" : tensor<64x128xbf16>
  %o = qnext.sigmoid_gate %a, %g : tensor<1x4x32xf32>, tensor<1x4x32xf32>
  %m = tensor.collapse_shape %o [[0], [1, 2]] : tensor<1x4x32xf32> into tensor<1x128xf32>
  %y = qnext.linear %m, %w : tensor<1x128xf32>, tensor<64x128xbf16> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// Left alone: the shared expert's one-per-token gate; a gated value read
// elsewhere too; a gate no projection reads.
// CHECK-LABEL: func.func @negatives
// CHECK-NOT: qnext.fused
// CHECK: return
func.func @negatives(%a: tensor<?x64xf32>, %s: tensor<?x1xf32>, %b: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = qnext.param "proj" : tensor<64x64xbf16>
  %0 = qnext.sigmoid_gate %a, %s : tensor<?x64xf32>, tensor<?x1xf32>
  %1 = qnext.linear %0, %w : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  %2 = qnext.sigmoid_gate %a, %b : tensor<?x64xf32>, tensor<?x64xf32>
  %3 = qnext.linear %2, %w : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  %4 = qnext.sigmoid_gate %b, %a : tensor<?x64xf32>, tensor<?x64xf32>
  return %1, %2, %3, %4 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}
