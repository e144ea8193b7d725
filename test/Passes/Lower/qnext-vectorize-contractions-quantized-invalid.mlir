// RUN: qnext-opt %s --qnext-vectorize-contractions="vector-width=48" --verify-diagnostics

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// K = 384 is eight vectors of 48, but a group of 128 columns is not whole
// vectors: no kernel takes the contraction, and its dequantize is an error
// naming what reads it, not a dequantized copy of the weight.
func.func @unread(%q: tensor<4x384xf8E4M3FN>, %s: tensor<4x3xf32>, %x: tensor<384xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{qnext-vectorize-contractions: this quantized weight is read by an op no kernel decodes (a kernel takes K and the group in whole vectors of 48)}}
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<4x384xf8E4M3FN>, tensor<4x3xf32> -> tensor<4x384xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  // expected-note @+1 {{read here}}
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<4x384xf32>, tensor<384xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}
