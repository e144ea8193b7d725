// RUN: qnext-opt %s --split-input-file --verify-diagnostics \
// RUN:   --pass-pipeline='builtin.module(func.func(qnext-gpu-map-threads{block-size=64}))' | FileCheck %s
// RUN: qnext-opt %s --split-input-file \
// RUN:   --pass-pipeline='builtin.module(func.func(qnext-gpu-map-threads{block-size=64},convert-parallel-loops-to-gpu),canonicalize)' \
// RUN:   | FileCheck %s --check-prefix=LAUNCH

// A two-dimensional nest (?, 200): its iterations flattened, blocks of 64
// threads over them (one block at least: ? may be 0), a guard for the last
// block, the indices recovered
// innermost first; the nested parallel loop becomes a sequential loop inside
// the thread (not a loop mapped "sequential": under the guard's scf.if,
// convert-parallel-loops-to-gpu would then leave the whole nest on the host).

// CHECK-LABEL: func.func @two_dims
// CHECK-SAME: (%[[A:.+]]: memref<?x200xf32>, %[[B:.+]]: memref<?x200xf32>)
// CHECK: %[[C200:.+]] = arith.constant 200 : index
// CHECK: %[[N:.+]] = memref.dim %[[A]]
// CHECK: %[[C64:.+]] = arith.constant 64 : index
// CHECK: %[[TOTAL:.+]] = arith.muli %[[N]], %[[C200]] : index
// CHECK-NEXT: %[[CEIL:.+]] = arith.ceildivui %[[TOTAL]], %[[C64]] : index
// CHECK-NEXT: %[[BLOCKS:.+]] = arith.maxui %[[CEIL]], %[[ONE:.+]] : index
// CHECK-NEXT: scf.parallel (%[[BX:.+]]) = (%{{.+}}) to (%[[BLOCKS]])
// CHECK-NEXT: scf.parallel (%[[TX:.+]]) = (%{{.+}}) to (%[[C64]])
// CHECK-NEXT: %[[FIRST:.+]] = arith.muli %[[BX]], %[[C64]] : index
// CHECK-NEXT: %[[LIN:.+]] = arith.addi %[[FIRST]], %[[TX]] : index
// CHECK-NEXT: %[[IN:.+]] = arith.cmpi ult, %[[LIN]], %[[TOTAL]] : index
// CHECK-NEXT: scf.if %[[IN]] {
// CHECK-NEXT: %[[J:.+]] = arith.remui %[[LIN]], %[[C200]] : index
// CHECK-NEXT: %[[I:.+]] = arith.divui %[[LIN]], %[[C200]] : index
// CHECK-NEXT: %[[V:.+]] = memref.load %[[A]][%[[I]], %[[J]]]
// CHECK-NEXT: scf.for %[[K:.+]] = %{{.+}} to %{{.+}} step
// CHECK-NEXT: memref.store %[[V]], %[[B]][%[[I]], %[[K]]]
// CHECK-NOT: processor = sequential
// CHECK: {mapping = [#gpu.loop_dim_map<processor = thread_x
// CHECK: {mapping = [#gpu.loop_dim_map<processor = block_x

// After convert-parallel-loops-to-gpu: one launch, grid x only, 64 threads,
// nothing left on the host.
// LAUNCH-LABEL: func.func @two_dims
// LAUNCH-DAG: %[[C64:.+]] = arith.constant 64 : index
// LAUNCH-DAG: %[[ONE:.+]] = arith.constant 1 : index
// LAUNCH: %[[CEIL:.+]] = arith.ceildivui %{{.+}}, %[[C64]]
// LAUNCH-NEXT: %[[BLOCKS:.+]] = arith.maxui %[[CEIL]], %[[ONE]]
// LAUNCH-NEXT: gpu.launch blocks(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[BLOCKS]], %{{.+}} = %[[ONE]], %{{.+}} = %[[ONE]]) threads(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[C64]], %{{.+}} = %[[ONE]], %{{.+}} = %[[ONE]])
// LAUNCH: scf.if
// LAUNCH: scf.for
// LAUNCH-NEXT: memref.store
// LAUNCH: gpu.terminator
// LAUNCH-NOT: scf.parallel
// LAUNCH: return
func.func @two_dims(%a: memref<?x200xf32>, %b: memref<?x200xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c200 = arith.constant 200 : index
  %n = memref.dim %a, %c0 : memref<?x200xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c200) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<?x200xf32>
    scf.parallel (%k) = (%c0) to (%c2) step (%c1) {
      memref.store %v, %b[%i, %k] : memref<?x200xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

// Lower bounds and steps other than 0 and 1: the trip count is
// ceildiv(ub - lb, step) and the index lb + i * step.

// CHECK-LABEL: func.func @strided
// CHECK-SAME: (%[[OUT:.+]]: memref<100xf32>, %[[LB:.+]]: index)
// CHECK-DAG: %[[C3:.+]] = arith.constant 3 : index
// CHECK-DAG: %[[C100:.+]] = arith.constant 100 : index
// CHECK: %[[SPAN:.+]] = arith.subi %[[C100]], %[[LB]] : index
// CHECK-NEXT: %[[TRIP:.+]] = arith.ceildivui %[[SPAN]], %[[C3]] : index
// CHECK: arith.cmpi ult, %[[LIN:.+]], %[[TRIP]] : index
// CHECK-NEXT: scf.if
// CHECK-NEXT: %[[SCALED:.+]] = arith.muli %[[LIN]], %[[C3]] : index
// CHECK-NEXT: %[[I:.+]] = arith.addi %[[LB]], %[[SCALED]] : index
// CHECK-NEXT: memref.store %{{.+}}, %[[OUT]][%[[I]]]
func.func @strided(%out: memref<100xf32>, %lb: index) {
  %c3 = arith.constant 3 : index
  %c100 = arith.constant 100 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%lb) to (%c100) step (%c3) {
    memref.store %f, %out[%i] : memref<100xf32>
    scf.reduce
  }
  return
}

// -----

// A loop with a reduction is left as it is (no mapping).

// CHECK-LABEL: func.func @reduction
// CHECK: scf.parallel
// CHECK-NOT: mapping
// CHECK: return
func.func @reduction(%in: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.parallel (%i) = (%c0) to (%c8) step (%c1) init (%zero) -> f32 {
    %v = memref.load %in[%i] : memref<8xf32>
    scf.reduce(%v : f32) {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}
