// RUN: qnext-opt %s --qnext-gpu-emulate-on-host --split-input-file --verify-diagnostics

// Threads that wait for each other cannot run one after another.
func.func @barrier(%out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  // expected-error @+1 {{cannot emulate on the host: a kernel whose threads communicate (gpu.barrier)}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    gpu.barrier
    gpu.terminator
  }
  return
}

// -----

// Memory shared by a block's threads.
func.func @shared(%out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{cannot emulate on the host: a launch with shared or private memory attributions}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1)
             workgroup(%w : memref<4xf32, #gpu.address_space<workgroup>>) {
    gpu.terminator
  }
  return
}

// -----

// Emulation runs before gpu-async-region.
func.func @async_launch() {
  %c1 = arith.constant 1 : index
  %t0 = gpu.wait async
  // expected-error @+1 {{cannot emulate on the host: an asynchronous launch (emulate before gpu-async-region)}}
  %t1 = gpu.launch async [%t0] blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.terminator
  }
  return
}

// -----

// A host-side GPU op with no host equivalent.
func.func @host_register(%m: memref<*xf32>) {
  // expected-error @+1 {{no host equivalent for this GPU op}}
  gpu.host_register %m : memref<*xf32>
  return
}

// -----

// An asynchronous copy.
func.func @async_copy(%a: memref<4xf32>, %b: memref<4xf32>) {
  // expected-error @+1 {{an asynchronous GPU op: emulate before gpu-async-region}}
  %t = gpu.memcpy async %a, %b : memref<4xf32>, memref<4xf32>
  return
}
