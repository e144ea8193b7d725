// RUN: not qnext-opt %s --qnext-vectorize-contractions="activations=int16" 2>&1 | FileCheck %s --check-prefix=VALUE
// RUN: not qnext-opt %s --qnext-vectorize-contractions="vector-width=4 activations=int8" 2>&1 | FileCheck %s --check-prefix=WIDTH

// VALUE: error: qnext-vectorize-contractions: activations must be 'f32', 'int8' or 'bf16', not 'int16'
// WIDTH: error: qnext-vectorize-contractions: activations=int8 multiplies bytes (vpdpbusd, vpmaddubsw), 256 or 512 bits: vector-width 8 or 16, not 4
func.func @f() {
  return
}
