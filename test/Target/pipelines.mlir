// The named pipelines are C++ builders (CPUPipeline.cpp, CUDAPipeline.cpp)
// sharing one front end (FrontEnd.h): both take the same fusions option, and
// a mistake in it fails the tool with one line instead of being dropped.

// RUN: qnext-opt %s --pass-pipeline='builtin.module(qnext-cpu-pipeline{fusions=projections,swiglu})' --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=CPU
// The fusions run in the table's order (swiglu before projections), on
// each function, right after the decomposition; the CPU steps follow.
// CPU: qnext-decompose-layers
// CPU-NEXT: func.func(
// CPU-NEXT: qnext-fuse-swiglu
// CPU-NEXT: qnext-fuse-projections
// CPU: qnext-outline-layers
// CPU: qnext-lower-to-linalg{gather-experts=false}
// CPU: qnext-vectorize-contractions{activations=f32 amx=false bf16-terms=2 prologue-tasks=16 rows=4 token-block-rows=2 token-rows=4 token-tile=64 vector-width=8 vnni=true}
// CPU: qnext-entry-abi
// CPU: one-shot-bufferize{{.*}}bufferize-function-boundaries=true{{.*}}function-boundary-type-conversion=identity-layout-map
// CPU-NEXT: qnext-sort-globals
// CPU-NEXT: drop-equivalent-buffer-results
// CPU: convert-scf-to-openmp
// CPU-NEXT: qnext-omp-schedule{schedule=guided}
// CPU: qnext-lower-byte-dots{vnni=true}
// AMX tiles become intrinsics with the vector ops; the branches that carry
// tiles (an AMX kernel's K loop) become LLVM's before the OpenMP conversion.
// CPU: convert-vector-to-llvm{enable-amx=true
// CPU-NEXT: convert-to-llvm{{.*}}filter-dialects={cf,amx}
// CPU: convert-openmp-to-llvm
// CPU: reconcile-unrealized-casts

// RUN: qnext-opt %s --pass-pipeline='builtin.module(qnext-cuda-pipeline{fusions=projections chip=sm_80})' --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=CUDA
// The same front end, then the GPU's steps.
// CUDA: qnext-decompose-layers
// CUDA-NEXT: func.func(
// CUDA-NEXT: qnext-fuse-projections
// CUDA: qnext-lower-to-linalg{gather-experts=true}
// CUDA: qnext-entry-abi
// CUDA-NOT: drop-equivalent-buffer-results
// CUDA: qnext-gpu-map-threads{block-size=128}
// CUDA: nvvm-attach-target{O=3 chip=sm_80
// CUDA: gpu-module-to-binary{format=fatbin

// RUN: not qnext-opt %s --pass-pipeline='builtin.module(qnext-cpu-pipeline{fusions=attention})' -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not qnext-opt %s --pass-pipeline='builtin.module(qnext-cuda-pipeline{fusions=attention})' -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: no such fusion 'attention' (deltanet-step, moe, swiglu, projections, norm-linear, gate-linear, add-norm, norm-rope, router)

// A fusion's own options, in braces, checked by its pass.
// RUN: qnext-opt %s --pass-pipeline='builtin.module(qnext-cpu-pipeline{fusions=projections{row-multiple=8}})' --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPTIONS
// OPTIONS: qnext-fuse-projections{min-group=2 row-multiple=8
// RUN: not qnext-opt %s --pass-pipeline='builtin.module(qnext-cpu-pipeline{fusions=projections{rows=8}})' -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADOPTION
// BADOPTION: fusion 'projections{rows=8}': the options do not parse

module {}
