// RUN: qnext-opt %s --verify-diagnostics \
// RUN:   --pass-pipeline='builtin.module(func.func(qnext-gpu-map-threads{block-size=2048}))'

// A block holds at most 1,024 threads.

// expected-error @+1 {{qnext-gpu-map-threads: block-size must be 1 to 1024 (a block's thread limit)}}
func.func @too_many_threads() {
  return
}
