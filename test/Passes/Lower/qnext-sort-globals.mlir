// RUN: qnext-opt %s --qnext-sort-globals | FileCheck %s

// The constants' globals move to the module's start ordered by type, then
// value, then name, whatever order bufferization created them in; the
// functions keep theirs.
// CHECK: memref.global "private" constant @__constant_8xf32_0 : memref<8xf32> = dense<0.000000e+00>
// CHECK-NEXT: memref.global "private" constant @__constant_8xf32 : memref<8xf32> = dense<1.000000e+00>
// CHECK-NEXT: memref.global "private" constant @__constant_8xindex : memref<8xindex> = dense<0>
// CHECK-NEXT: func.func @first
// CHECK: func.func @second
memref.global "private" constant @__constant_8xindex : memref<8xindex> = dense<0>
func.func @first() -> memref<8xf32> {
  %0 = memref.get_global @__constant_8xf32 : memref<8xf32>
  return %0 : memref<8xf32>
}
memref.global "private" constant @__constant_8xf32 : memref<8xf32> = dense<1.0>
memref.global "private" constant @__constant_8xf32_0 : memref<8xf32> = dense<0.0>
func.func @second() -> memref<8xindex> {
  %0 = memref.get_global @__constant_8xindex : memref<8xindex>
  %1 = memref.get_global @__constant_8xf32_0 : memref<8xf32>
  return %0 : memref<8xindex>
}
