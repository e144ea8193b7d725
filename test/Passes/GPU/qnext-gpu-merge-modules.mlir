// RUN: qnext-opt %s --qnext-gpu-merge-modules --split-input-file --verify-diagnostics | FileCheck %s
// RUN: qnext-opt %s --qnext-gpu-merge-modules="name=kernels" --split-input-file | FileCheck %s --check-prefix=NAMED

// Two outlined kernels (each in its own gpu.module, both named after
// outlining's convention) end in one module, renamed after their old
// modules; the launches follow them.

// CHECK-LABEL: func.func @host
// CHECK: gpu.launch_func @qnext_kernels::@host_kernel blocks
// CHECK: gpu.launch_func @qnext_kernels::@host_kernel_0 blocks
// CHECK: gpu.module @qnext_kernels
// CHECK-DAG: gpu.func @host_kernel(%{{.*}}: memref<4xf32>) kernel
// CHECK-DAG: gpu.func @host_kernel_0(%{{.*}}: memref<4xf32>) kernel
// CHECK-NOT: gpu.module
// NAMED: gpu.launch_func @kernels::@host_kernel blocks
// NAMED: gpu.module @kernels
module attributes {gpu.container_module} {
  func.func @host(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @host_kernel::@host_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @host_kernel_0::@host_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @host_kernel {
    gpu.func @host_kernel(%arg0: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @host_kernel_0 {
    gpu.func @host_kernel(%arg0: memref<4xf32>) kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  // expected-error @+1 {{a gpu.module is already named qnext_kernels}}
  gpu.module @qnext_kernels {
  }
}
