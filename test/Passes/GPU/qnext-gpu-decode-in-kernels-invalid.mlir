// RUN: qnext-opt %s --pass-pipeline='builtin.module(func.func(qnext-gpu-decode-in-kernels))' \
// RUN:   --split-input-file --verify-diagnostics

// A quantized weight is never materialised: a read no GPU kernel decodes
// element by element (here a named op, which has no body to decode in) is
// an error naming it.
func.func @named_op(%x: tensor<1x256xf32>, %q: tensor<64x256xi8>, %s: tensor<64x2xf32>,
                    %init: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<64x256xi8>, tensor<64x2xf32> -> tensor<64x256xf32>
  // expected-error @+1 {{'linalg.matmul' op reads a quantized weight (qnext.dequantize) in a way no GPU kernel decodes}}
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<1x256xf32>, tensor<64x256xf32>) outs(%init : tensor<1x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// Nor is one returned (the weight as a value), even through a slice.
func.func @returned(%q: tensor<64x128xi8>, %s: tensor<64x1xf32>) -> tensor<32x128xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<64x128xi8>, tensor<64x1xf32> -> tensor<64x128xf32>
  %half = tensor.extract_slice %w[0, 0] [32, 128] [1, 1] : tensor<64x128xf32> to tensor<32x128xf32>
  // expected-error @+1 {{'func.return' op reads a quantized weight (qnext.dequantize) in a way no GPU kernel decodes}}
  return %half : tensor<32x128xf32>
}

// -----

// The weight as a linalg.generic's output (written, not read) is not a read
// to decode either.
func.func @as_output(%q: tensor<4x128xi8>, %s: tensor<4x1xf32>) -> tensor<4x128xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<4x128xi8>, tensor<4x1xf32> -> tensor<4x128xf32>
  // expected-error @+1 {{'linalg.generic' op reads a quantized weight (qnext.dequantize) in a way no GPU kernel decodes}}
  %y = linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>], iterator_types = ["parallel", "parallel"]}
      outs(%w : tensor<4x128xf32>) {
  ^bb0(%o: f32):
    %two = arith.addf %o, %o : f32
    linalg.yield %two : f32
  } -> tensor<4x128xf32>
  return %y : tensor<4x128xf32>
}
