// RUN: qnext-opt %s --qnext-gpu-emulate-on-host --split-input-file | FileCheck %s

// A launch becomes loops over blocks z, y, x and threads z, y, x around its
// body, in an alloca scope; region arguments and id ops become the loops'
// indices and the launch's sizes; device buffers become host buffers.

// The module is no longer a GPU container module.
// CHECK: module {
// CHECK-LABEL: func.func @launch
// CHECK-SAME: (%[[IN:.+]]: memref<?xf32>, %[[OUT:.+]]: memref<?xf32>, %[[N:.+]]: index)
// CHECK-NOT: gpu.
// CHECK: %[[BUF:.+]] = memref.alloc(%[[N]]) : memref<?xf32>
// CHECK-NEXT: memref.copy %[[IN]], %[[BUF]]
// CHECK: scf.for %[[BZ:.+]] = %[[C0:.+]] to %[[C1:.+]] step %[[STEP:.+]] {
// CHECK-NEXT: scf.for %[[BY:.+]] = %[[C0]] to %[[C1]] step %[[STEP]] {
// CHECK-NEXT: scf.for %[[BX:.+]] = %[[C0]] to %[[N]] step %[[STEP]] {
// CHECK-NEXT: scf.for %[[TZ:.+]] = %[[C0]] to %[[C1]] step %[[STEP]] {
// CHECK-NEXT: scf.for %[[TY:.+]] = %[[C0]] to %[[C1]] step %[[STEP]] {
// CHECK-NEXT: scf.for %[[TX:.+]] = %[[C0]] to %[[C4:.+]] step %[[STEP]] {
// CHECK-NEXT: memref.alloca_scope {
// CHECK-NEXT: %[[SCRATCH:.+]] = memref.alloca() : memref<f32>
// CHECK-NEXT: %[[FIRST:.+]] = arith.muli %[[BX]], %[[C4]] : index
// CHECK-NEXT: %[[I:.+]] = arith.addi %[[FIRST]], %[[TX]] : index
// CHECK-NEXT: %[[V:.+]] = memref.load %[[BUF]][%[[I]]]
// CHECK-NEXT: memref.store %[[V]], %[[SCRATCH]][]
// CHECK-NEXT: %[[W:.+]] = memref.load %[[SCRATCH]][]
// CHECK-NEXT: memref.store %[[W]], %[[OUT]][%[[I]]]
// CHECK-NEXT: }
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[BUF]] : memref<?xf32>)
// CHECK-NEXT: memref.dealloc %[[BUF]] : memref<?xf32>
// CHECK-NEXT: return
module attributes {gpu.container_module} {
func.func @launch(%in: memref<?xf32>, %out: memref<?xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %buf = gpu.alloc (%n) : memref<?xf32>
  gpu.memcpy %buf, %in : memref<?xf32>, memref<?xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %scratch = memref.alloca() : memref<f32>
    %bdim = gpu.block_dim x
    %first = arith.muli %bx, %bdim : index
    %t = gpu.thread_id x
    %i = arith.addi %first, %t : index
    %v = memref.load %buf[%i] : memref<?xf32>
    memref.store %v, %scratch[] : memref<f32>
    %w = memref.load %scratch[] : memref<f32>
    memref.store %w, %out[%i] : memref<?xf32>
    gpu.terminator
  }
  gpu.wait
  gpu.memset %buf, %zero : memref<?xf32>, f32
  gpu.dealloc %buf : memref<?xf32>
  return
}
}
