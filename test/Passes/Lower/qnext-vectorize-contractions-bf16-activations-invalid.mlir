// RUN: not qnext-opt %s --qnext-vectorize-contractions="vector-width=4 activations=bf16" 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not qnext-opt %s --qnext-vectorize-contractions="activations=fp16" 2>&1 | FileCheck %s --check-prefix=VALUE
// RUN: not qnext-opt %s --qnext-vectorize-contractions="vector-width=16 activations=bf16 bf16-terms=3" 2>&1 | FileCheck %s --check-prefix=TERMS

// WIDTH: error: qnext-vectorize-contractions: activations=bf16 multiplies bf16 pairs with vdpbf16ps, 256 or 512 bits: vector-width 8 or 16, not 4
// TERMS: error: qnext-vectorize-contractions: bf16-terms must be 1 or 2, not 3
// VALUE: error: qnext-vectorize-contractions: activations must be 'f32', 'int8' or 'bf16', not 'fp16'
func.func @f() {
  return
}
