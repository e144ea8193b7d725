// RUN: qnext-opt %s --verify-diagnostics \
// RUN:   --pass-pipeline='builtin.module(func.func(qnext-gpu-split-reductions{lanes=1}))'

// One lane is no split.

// expected-error @+1 {{qnext-gpu-split-reductions: lanes must be at least 2}}
func.func @one_lane() {
  return
}
