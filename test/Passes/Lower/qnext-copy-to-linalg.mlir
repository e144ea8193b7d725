// RUN: qnext-opt %s --qnext-copy-to-linalg | FileCheck %s

// Copies, strided or not, become linalg.copy (and later loops): no call of
// the memrefCopy runtime helper.
// CHECK-LABEL: func.func @copies
// CHECK-SAME: (%[[A:.+]]: memref<4x8xf32>, %[[B:.+]]: memref<4x8xf32>, %[[I:.+]]: index)
// CHECK: linalg.copy ins(%[[A]] : memref<4x8xf32>) outs(%[[B]] : memref<4x8xf32>)
// CHECK: %[[SA:.+]] = memref.subview %[[A]]
// CHECK: %[[SB:.+]] = memref.subview %[[B]]
// CHECK: linalg.copy ins(%[[SA]] : memref<2x8xf32, strided<[8, 1], offset: ?>>) outs(%[[SB]] : memref<2x8xf32, strided<[8, 1], offset: ?>>)
// CHECK-NOT: memref.copy
func.func @copies(%a: memref<4x8xf32>, %b: memref<4x8xf32>, %i: index) {
  memref.copy %a, %b : memref<4x8xf32> to memref<4x8xf32>
  %sa = memref.subview %a[%i, 0] [2, 8] [1, 1] : memref<4x8xf32> to memref<2x8xf32, strided<[8, 1], offset: ?>>
  %sb = memref.subview %b[%i, 0] [2, 8] [1, 1] : memref<4x8xf32> to memref<2x8xf32, strided<[8, 1], offset: ?>>
  memref.copy %sa, %sb : memref<2x8xf32, strided<[8, 1], offset: ?>> to memref<2x8xf32, strided<[8, 1], offset: ?>>
  return
}
