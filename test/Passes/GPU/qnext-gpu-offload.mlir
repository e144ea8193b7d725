// RUN: qnext-opt %s --qnext-gpu-offload --split-input-file --verify-diagnostics | FileCheck %s

// A host loop that reads and writes memory (a top-k style scan) goes into a
// one-thread kernel; an op holding a launch is entered, not wrapped; host
// buffers move to device memory; a small static buffer inside a kernel goes
// on the thread's stack.

// CHECK-LABEL: func.func @host_scan
// CHECK-SAME: (%[[IN:.+]]: memref<8xf32>, %[[OUT:.+]]: memref<f32>)
func.func @host_scan(%in: memref<8xf32>, %out: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  // CHECK: %[[BUF:.+]] = gpu.alloc () : memref<8xf32>
  %buf = memref.alloc() : memref<8xf32>
  // CHECK: gpu.launch blocks(%{{.*}}) in (%{{.*}} = %[[ONE:.+]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]]) threads
  // CHECK-NEXT: scf.for
  // CHECK-NEXT: %[[TMP:.+]] = memref.alloca() : memref<f32>
  // CHECK-NEXT: memref.load %[[IN]]
  // CHECK: memref.store {{.*}}, %[[TMP]][]
  // CHECK-NOT: memref.dealloc
  // CHECK: gpu.terminator
  scf.for %i = %c0 to %c8 step %c1 {
    %tmp = memref.alloc() : memref<f32>
    %v = memref.load %in[%i] : memref<8xf32>
    memref.store %v, %tmp[] : memref<f32>
    %w = memref.load %tmp[] : memref<f32>
    memref.store %w, %out[] : memref<f32>
    memref.dealloc %tmp : memref<f32>
  }
  // A loop holding a launch stays on the host; its other memory op is
  // wrapped alone.
  // CHECK: scf.for
  // CHECK-NEXT: gpu.launch
  // CHECK: memref.store {{.*}}, %[[BUF]]
  // CHECK: gpu.terminator
  // CHECK: gpu.launch
  // CHECK-NEXT: memref.store {{.*}}, %[[OUT]][]
  scf.for %i = %c0 to %c8 step %c1 {
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c8, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      %f = arith.constant 1.0 : f32
      memref.store %f, %buf[%bx] : memref<8xf32>
      gpu.terminator
    }
    %z = arith.constant 0.0 : f32
    memref.store %z, %out[] : memref<f32>
  }
  // CHECK: gpu.dealloc %[[BUF]] : memref<8xf32>
  memref.dealloc %buf : memref<8xf32>
  return
}

// -----

// A constant table: copied to a device buffer, freed at the return. The
// load and the store that uses it go into one kernel.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @read_table
func.func @read_table(%out: memref<4xf32>) {
  // CHECK: %[[HOST:.+]] = memref.get_global @table
  // CHECK-NEXT: %[[DEV:.+]] = gpu.alloc () : memref<4xf32>
  // CHECK-NEXT: gpu.memcpy %[[DEV]], %[[HOST]]
  // CHECK: gpu.launch
  // CHECK-NEXT: %[[V:.+]] = memref.load %[[DEV]]
  // CHECK-NEXT: memref.store %[[V]]
  // CHECK-NEXT: gpu.terminator
  // CHECK: gpu.dealloc %[[DEV]]
  // CHECK-NEXT: return
  %t = memref.get_global @table : memref<4xf32>
  %c0 = arith.constant 0 : index
  %v = memref.load %t[%c0] : memref<4xf32>
  memref.store %v, %out[%c0] : memref<4xf32>
  return
}

// -----

// The host cannot steer by a value in device memory.
func.func @steer(%in: memref<4xindex>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{the host needs a value this op reads from device memory; the GPU target cannot run it}}
  %n = memref.load %in[%c0] : memref<4xindex>
  scf.for %i = %c0 to %n step %c1 {
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      %f = arith.constant 1.0 : f32
      memref.store %f, %out[%i] : memref<4xf32>
      gpu.terminator
    }
  }
  return
}

// -----

func.func @dynamic_scratch(%n: index) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{a dynamically sized buffer inside a GPU kernel}}
    %b = memref.alloc(%n) : memref<?xf32>
    gpu.terminator
  }
  return
}
