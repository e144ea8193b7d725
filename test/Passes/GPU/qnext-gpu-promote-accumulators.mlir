// RUN: qnext-opt %s --split-input-file \
// RUN:   --pass-pipeline='builtin.module(func.func(qnext-gpu-promote-accumulators))' | FileCheck %s

// A reduction into an allocated buffer, reading an argument: the element is
// loaded before the loop, carried, stored after it.

// CHECK-LABEL: func.func @reduce
// CHECK-SAME: (%[[X:.+]]: memref<8x64xf32>
// CHECK: %[[BUF:.+]] = memref.alloc() : memref<8xf32>
// CHECK: scf.for %[[I:.+]] = 
// CHECK-NEXT: %[[INIT:.+]] = memref.load %[[BUF]][%[[I]]]
// CHECK-NEXT: %[[SUM:.+]] = scf.for %[[K:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[ACC:.+]] = %[[INIT]]) -> (f32) {
// CHECK-NEXT: %[[T:.+]] = memref.load %[[X]][%[[I]], %[[K]]]
// CHECK-NEXT: %[[S:.+]] = arith.addf %[[ACC]], %[[T]] : f32
// CHECK-NEXT: scf.yield %[[S]] : f32
// CHECK-NEXT: }
// CHECK-NEXT: memref.store %[[SUM]], %[[BUF]][%[[I]]]
func.func @reduce(%x: memref<8x64xf32>, %out: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %buf = memref.alloc() : memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    scf.for %k = %c0 to %c64 step %c1 {
      %a = memref.load %buf[%i] : memref<8xf32>
      %t = memref.load %x[%i, %k] : memref<8x64xf32>
      %s = arith.addf %a, %t : f32
      memref.store %s, %buf[%i] : memref<8xf32>
    }
  }
  return
}

// -----

// A loop-invariant input read before the accumulator (a broadcast operand,
// in linalg's operand order) is not mistaken for it.

// CHECK-LABEL: func.func @invariant_input_first
// CHECK-SAME: (%[[X:.+]]: memref<8x64xf32>, %[[SCALE:.+]]: memref<8xf32>
// CHECK: %[[BUF:.+]] = memref.alloc() : memref<8xf32>
// CHECK: %[[INIT:.+]] = memref.load %[[BUF]][%[[I:.+]]]
// CHECK-NEXT: %[[SUM:.+]] = scf.for {{.+}} iter_args(%[[ACC:.+]] = %[[INIT]]) -> (f32) {
// CHECK-NEXT: memref.load %[[SCALE]][%[[I]]]
// CHECK-NOT: memref.load %[[BUF]]
// CHECK: arith.addf %[[ACC]]
// CHECK-NOT: memref.store
// CHECK: scf.yield
// CHECK: memref.store %[[SUM]], %[[BUF]][%[[I]]]
func.func @invariant_input_first(%x: memref<8x64xf32>, %scale: memref<8xf32>, %i: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %buf = memref.alloc() : memref<8xf32>
  scf.for %k = %c0 to %c64 step %c1 {
    %w = memref.load %scale[%i] : memref<8xf32>
    %a = memref.load %buf[%i] : memref<8xf32>
    %t = memref.load %x[%i, %k] : memref<8x64xf32>
    %p = arith.mulf %w, %t : f32
    %s = arith.addf %a, %p : f32
    memref.store %s, %buf[%i] : memref<8xf32>
  }
  return
}

// -----

// Two reduction loops over one element, through a view: the inner loop is
// promoted first, then the outer one, whose body now loads and stores the
// element around the inner loop.

// CHECK-LABEL: func.func @nested
// CHECK: %[[BUF:.+]] = memref.alloc() : memref<4x2xf32>
// CHECK: %[[VIEW:.+]] = memref.collapse_shape %[[BUF]]
// CHECK: %[[INIT:.+]] = memref.load %[[VIEW]][%{{.+}}]
// CHECK-NEXT: %[[OUTER:.+]] = scf.for {{.+}} iter_args(%[[A:.+]] = %[[INIT]]) -> (f32) {
// CHECK-NEXT: %[[INNER:.+]] = scf.for {{.+}} iter_args(%[[B:.+]] = %[[A]]) -> (f32) {
// CHECK-NOT: memref.store
// CHECK: scf.yield
// CHECK: scf.yield %[[INNER]] : f32
// CHECK: memref.store %[[OUTER]], %[[VIEW]]
func.func @nested(%x: memref<16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %buf = memref.alloc() : memref<4x2xf32>
  %view = memref.collapse_shape %buf [[0, 1]] : memref<4x2xf32> into memref<8xf32>
  scf.for %i = %c0 to %c16 step %c1 {
    scf.for %j = %c0 to %c16 step %c1 {
      %a = memref.load %view[%c1] : memref<8xf32>
      %t = memref.load %x[%i, %j] : memref<16x16xf32>
      %s = arith.addf %a, %t : f32
      memref.store %s, %view[%c1] : memref<8xf32>
    }
  }
  return
}

// -----

// Left alone: the accumulator and the input are both arguments (they may be
// one buffer); another element of the accumulator's buffer is read; the
// index moves with the loop; a call that may touch anything.

// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: iter_args
// CHECK: return
func.func private @opaque()
func.func @left_alone(%x: memref<8x64xf32>, %out: memref<8xf32>, %i: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  scf.for %k = %c0 to %c64 step %c1 {
    %a = memref.load %out[%i] : memref<8xf32>
    %t = memref.load %x[%i, %k] : memref<8x64xf32>
    %s = arith.addf %a, %t : f32
    memref.store %s, %out[%i] : memref<8xf32>
  }
  %buf = memref.alloc() : memref<8xf32>
  scf.for %k = %c0 to %c8 step %c1 {
    %a = memref.load %buf[%i] : memref<8xf32>
    %t = memref.load %buf[%k] : memref<8xf32>
    %s = arith.addf %a, %t : f32
    memref.store %s, %buf[%i] : memref<8xf32>
  }
  scf.for %k = %c0 to %c8 step %c1 {
    %a = memref.load %buf[%k] : memref<8xf32>
    %t = memref.load %x[%i, %k] : memref<8x64xf32>
    %s = arith.addf %a, %t : f32
    memref.store %s, %buf[%k] : memref<8xf32>
  }
  scf.for %k = %c0 to %c64 step %c1 {
    %a = memref.load %buf[%i] : memref<8xf32>
    func.call @opaque() : () -> ()
    %t = memref.load %x[%i, %k] : memref<8x64xf32>
    %s = arith.addf %a, %t : f32
    memref.store %s, %buf[%i] : memref<8xf32>
  }
  return
}
