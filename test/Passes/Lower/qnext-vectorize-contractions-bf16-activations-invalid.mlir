// RUN: not qnext-opt %s --qnext-vectorize-contractions="vector-width=4 activations=bf16" 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not qnext-opt %s --qnext-vectorize-contractions="activations=fp16" 2>&1 | FileCheck %s --check-prefix=VALUE

// WIDTH: error: qnext-vectorize-contractions: activations=bf16 multiplies bf16 pairs with vdpbf16ps, 256 or 512 bits: vector-width 8 or 16, not 4
// VALUE: error: qnext-vectorize-contractions: activations must be 'f32', 'int8' or 'bf16', not 'fp16'
func.func @f() {
  return
}
