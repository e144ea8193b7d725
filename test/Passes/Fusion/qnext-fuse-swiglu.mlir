// RUN: qnext-opt %s --qnext-fuse-swiglu --split-input-file | FileCheck %s
// RUN: qnext-opt %s --qnext-fuse-swiglu --qnext-fuse-projections --split-input-file | FileCheck %s --check-prefix=PROJ
// RUN: qnext-opt %s --qnext-fuse-swiglu --qnext-lower-to-linalg --split-input-file | FileCheck %s --check-prefix=LINALG
// RUN: qnext-opt %s --qnext-fuse-swiglu --qnext-lower-to-linalg --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=KERNEL
// RUN: qnext-opt %s --qnext-lower-to-linalg --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=APART

// A SwiGLU MLP: gate, up and silu_mul become one group; down stays out.
// CHECK-LABEL: func.func @mlp
// CHECK: %[[GROUP:.+]] = qnext.fused <swiglu> : tensor<1x32xf32> {
// CHECK-NEXT: %[[G:.+]] = qnext.linear %arg0, %{{.+}} : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
// CHECK-NEXT: %[[U:.+]] = qnext.linear %arg0, %{{.+}} : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
// CHECK-NEXT: %[[H:.+]] = qnext.silu_mul %[[G]], %[[U]] : tensor<1x32xf32>
// CHECK-NEXT: qnext.yield %[[H]] : tensor<1x32xf32>
// CHECK-NEXT: }
// CHECK-NEXT: qnext.linear %[[GROUP]], %{{.+}} : tensor<1x32xf32>
// CHECK-NOT: qnext.fused
// CHECK: return

// The projections fusion leaves the grouped gate and up alone.
// PROJ-LABEL: func.func @mlp
// PROJ-NOT: qnext.concat_weights
// PROJ: return

// The lowering takes the group apart and tags the two contractions and the
// generic with its kind.
// LINALG-LABEL: func.func @mlp
// LINALG-NOT: qnext.fused
// LINALG: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]{{.+}}qnext.fusion = #qnext.fusion<swiglu>
// LINALG: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]{{.+}}qnext.fusion = #qnext.fusion<swiglu>
// LINALG: linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]{{.+}}qnext.fusion = #qnext.fusion<swiglu>
// LINALG: math.exp
// LINALG-NOT: qnext.fusion
// LINALG: return

// One kernel: 8 rows of [gate; up] per block (for each of the 4 rows, a K
// loop over gate's row and one over up's), silu * mul applied to the summed
// rows in registers; then the down projection's own kernel.
// KERNEL-LABEL: func.func @mlp
// KERNEL-SAME: (%[[X:.+]]: tensor<1x64xf32>)
// KERNEL: %[[E:.+]] = tensor.empty() : tensor<1x32xf32>
// KERNEL: scf.forall (%{{.+}}) in (8) shared_outs(%{{.+}} = %[[E]])
// KERNEL: %[[STEPS:.+]]:4 = scf.for {{.+}} -> (vector<2xf32>, vector<2xf32>, vector<2xf32>, vector<2xf32>)
// KERNEL: scf.for {{.+}} -> (vector<8xf32>)
// KERNEL: vector.reduction <add>
// KERNEL: scf.for {{.+}} -> (vector<8xf32>)
// KERNEL: vector.reduction <add>
// KERNEL: vector.from_elements {{.+}} : vector<2xf32>
// KERNEL: %[[G0:.+]] = vector.insert_strided_slice %[[STEPS]]#0, %{{.+}} {offsets = [0], strides = [1]}
// KERNEL: %[[GATE:.+]] = vector.insert_strided_slice %[[STEPS]]#1, %[[G0]] {offsets = [2], strides = [1]}
// KERNEL: %[[U0:.+]] = vector.insert_strided_slice %[[STEPS]]#2, %{{.+}} {offsets = [0], strides = [1]}
// KERNEL: %[[UP:.+]] = vector.insert_strided_slice %[[STEPS]]#3, %[[U0]] {offsets = [2], strides = [1]}
// KERNEL: %[[NEG:.+]] = arith.negf %[[GATE]] : vector<4xf32>
// KERNEL: %[[EXP:.+]] = math.exp %[[NEG]] : vector<4xf32>
// KERNEL: %[[DEN:.+]] = arith.addf %[[EXP]], %{{.+}} : vector<4xf32>
// KERNEL: %[[SIG:.+]] = arith.divf %{{.+}}, %[[DEN]] : vector<4xf32>
// KERNEL: %[[SILU:.+]] = arith.mulf %[[GATE]], %[[SIG]] : vector<4xf32>
// KERNEL: %[[ROW:.+]] = arith.mulf %[[SILU]], %[[UP]] : vector<4xf32>
// KERNEL: vector.transfer_write %[[ROW]]
// KERNEL: scf.forall (%{{.+}}) in (16)
// KERNEL-NOT: linalg.generic
// KERNEL-NOT: qnext.fusion
// KERNEL: return

// Ungrouped: three kernels and the generic between them.
// APART-LABEL: func.func @mlp
// APART: scf.forall (%{{.+}}) in (8)
// APART: scf.forall (%{{.+}}) in (8)
// APART: linalg.generic
// APART: scf.forall (%{{.+}}) in (16)
func.func @mlp(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %g = qnext.param "gate" : tensor<32x64xbf16>
  %u = qnext.param "up" : tensor<32x64xbf16>
  %d = qnext.param "down" : tensor<64x32xbf16>
  %0 = qnext.linear %x, %g : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %1 = qnext.linear %x, %u : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %2 = qnext.silu_mul %0, %1 : tensor<1x32xf32>
  %3 = qnext.linear %2, %d : tensor<1x32xf32>, tensor<64x32xbf16> -> tensor<1x64xf32>
  return %3 : tensor<1x64xf32>
}

// -----

// Several tokens: the fused kernel keeps the token blocks, with half an
// unfused block's weight rows (token-block-rows=2 -> 1), so that its two
// weights take the accumulators one weight would: 4 tokens x 1 row x 2 = 8.
// KERNEL-LABEL: func.func @prefill
// KERNEL: scf.forall (%{{.+}}) in (32)
// KERNEL: scf.for
// KERNEL: scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// KERNEL: math.exp {{.+}} : vector<1xf32>
// KERNEL-NOT: linalg.generic
// KERNEL: return
func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %g = qnext.param "gate" : tensor<32x64xbf16>
  %u = qnext.param "up" : tensor<32x64xbf16>
  %0 = qnext.linear %x, %g : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  %1 = qnext.linear %x, %u : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  %2 = qnext.silu_mul %0, %1 : tensor<?x32xf32>
  return %2 : tensor<?x32xf32>
}

// -----

// Left alone: the gate projection is read elsewhere too; the two
// projections read different inputs; the weights differ in type.
// CHECK-LABEL: func.func @negatives
// CHECK-NOT: qnext.fused
// CHECK: return
func.func @negatives(%x: tensor<1x64xf32>, %y: tensor<1x64xf32>) -> (tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>) {
  %g = qnext.param "gate" : tensor<32x64xbf16>
  %u = qnext.param "up" : tensor<32x64xbf16>
  %u16 = qnext.param "up16" : tensor<32x64xf16>
  %0 = qnext.linear %x, %g : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %1 = qnext.linear %x, %u : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %2 = qnext.silu_mul %0, %1 : tensor<1x32xf32>
  %3 = qnext.linear %x, %g : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %4 = qnext.linear %y, %u : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %5 = qnext.silu_mul %3, %4 : tensor<1x32xf32>
  %6 = qnext.linear %x, %g : tensor<1x64xf32>, tensor<32x64xbf16> -> tensor<1x32xf32>
  %7 = qnext.linear %x, %u16 : tensor<1x64xf32>, tensor<32x64xf16> -> tensor<1x32xf32>
  %8 = qnext.silu_mul %6, %7 : tensor<1x32xf32>
  return %2, %0, %5, %8 : tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>
}

// -----

// The routed experts are grouped whole; their lowering tags each selected
// expert's gate, up and silu * mul, and the kernel fuses them.
// CHECK-LABEL: func.func @experts
// CHECK: qnext.fused <swiglu> : tensor<1x64xf32> {
// CHECK-NEXT: qnext.expert_swiglu
// LINALG-LABEL: func.func @experts
// LINALG: scf.for
// LINALG: linalg.generic {{.+}}qnext.fusion = #qnext.fusion<swiglu>
// LINALG: linalg.generic {{.+}}qnext.fusion = #qnext.fusion<swiglu>
// LINALG: linalg.generic {{.+}}qnext.fusion = #qnext.fusion<swiglu>
// KERNEL-LABEL: func.func @experts
// KERNEL: scf.for
// KERNEL: scf.forall (%{{.+}}) in (8)
// KERNEL: math.exp {{.+}} : vector<4xf32>
// KERNEL: scf.forall (%{{.+}}) in (16)
// KERNEL-NOT: math.exp
// KERNEL: return
func.func @experts(%x: tensor<1x64xf32>, %w: tensor<1x2xf32>, %i: tensor<1x2xi32>) -> tensor<1x64xf32> {
  %g = qnext.param "experts_gate" : tensor<4x32x64xbf16>
  %u = qnext.param "experts_up" : tensor<4x32x64xbf16>
  %d = qnext.param "experts_down" : tensor<4x64x32xbf16>
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<1x64xf32>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<4x32x64xbf16>,
         tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
