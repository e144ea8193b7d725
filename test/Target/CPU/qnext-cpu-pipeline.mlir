// RUN: qnext-opt %s --qnext-cpu-pipeline | FileCheck %s

// The whole CPU pipeline on a kernel made of layer ops: down to the LLVM
// dialect, with a C interface, and nothing left of qnext, linalg, scf or
// memref; math becomes LLVM intrinsics. The module keeps its (empty) weight
// plan.
// CHECK: module attributes {qnext.weights = [], qnext.weights_size = 0 : i64}
// CHECK-NOT: qnext.{{[a-z_]+ }}
// CHECK-NOT: linalg.
// CHECK-NOT: scf.
// CHECK-NOT: memref.
// Each kernel is a never-inlined function named by what it computes (here
// outside any layer, "model", in the entry "mlp"); the gate and up
// projections (the same shapes) share one, "model.linear.mlp" (the
// sites "model.linear.mlp" and ".2"), the down projection is the third.
// CHECK-LABEL: llvm.func @model.linear.mlp(
// CHECK-SAME: passthrough = ["noinline"]
// CHECK-NOT: llvm.func @model.linear.mlp.2(
// CHECK-LABEL: llvm.func @model.silu_mul.mlp(
// CHECK: llvm.intr.exp
// CHECK-LABEL: llvm.func @model.linear.mlp.3(
// CHECK-LABEL: llvm.func @mlp
// CHECK: llvm.call @model.linear.mlp(
// CHECK: llvm.call @model.linear.mlp(
// CHECK: llvm.call @model.silu_mul.mlp(
// CHECK: llvm.call @model.linear.mlp.3(
// CHECK-LABEL: llvm.func @_mlir_ciface_mlp(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr)
// CHECK: llvm.call @mlp
func.func @mlp(%x: tensor<3x8xf32>, %g: tensor<16x8xbf16>, %u: tensor<16x8xbf16>,
               %d: tensor<8x16xbf16>, %out: memref<3x8xf32>) attributes {llvm.emit_c_interface} {
  %y = qnext.mlp %x, %g, %u, %d : tensor<3x8xf32>, tensor<16x8xbf16>, tensor<16x8xbf16>, tensor<8x16xbf16>
  bufferization.materialize_in_destination %y in restrict writable %out
      : (tensor<3x8xf32>, memref<3x8xf32>) -> ()
  return
}
