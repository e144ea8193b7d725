// RUN: not qnext-opt %s --qnext-vectorize-contractions="vector-width=16 amx=true" 2>&1 | FileCheck %s --check-prefix=F32
// RUN: not qnext-opt %s --qnext-vectorize-contractions="vector-width=8 activations=bf16 amx=true" 2>&1 | FileCheck %s --check-prefix=WIDTH

// F32: error: qnext-vectorize-contractions: amx multiplies bf16 tiles: it needs activations=bf16 and vector-width 16
// WIDTH: error: qnext-vectorize-contractions: amx multiplies bf16 tiles: it needs activations=bf16 and vector-width 16
func.func @f() {
  return
}
