// RUN: qnext-opt %s --qnext-vectorize-contractions="vector-width=32" --verify-diagnostics

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// K = 128 and the group are whole vectors of 32, but int4's tile keeps 32
// columns in 16 bytes, low and high nibbles: a vector of 32 bytes would
// span two tiles. No kernel takes the contraction, and its dequantize is an
// error, not a dequantized copy of the weight.
func.func @unread(%q: tensor<4x64xi8>, %s: tensor<4x1xf32>, %x: tensor<128xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{qnext-vectorize-contractions: this quantized weight is read by an op no kernel decodes (a kernel takes K and the group in whole vectors of 32, and int4's half tiles of 16 bytes too)}}
  %w = qnext.dequantize %q, %s {group = 128 : i64, int4} : tensor<4x64xi8>, tensor<4x1xf32> -> tensor<4x128xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  // expected-note @+1 {{read here}}
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<4x128xf32>, tensor<128xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}
