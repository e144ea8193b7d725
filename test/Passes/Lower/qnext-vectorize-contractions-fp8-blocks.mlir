// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 token-rows=6 token-block-rows=4" --canonicalize --cse | FileCheck %s
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions --canonicalize --cse | FileCheck %s --check-prefix=AVX2

// Several tokens of quantized weights: a block's K loop carries a sum per
// token and row. With AVX-512's options (6 tokens x 4 rows), int8 keeps all
// 6 tokens: 24 sums. e4m3's decoding holds its mask and two steps of a
// weight vector and each token's input stays in a register for the block's
// rows, so it takes 5 tokens: 20 sums + 5 inputs + 3 of the 32 registers
// (6 x 4 spilled sums to the stack). With AVX2's (4 tokens x 2 rows, 16
// registers) both keep 4 tokens: 8 sums.

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// CHECK-LABEL: func.func @tokens_fp8
// CHECK: scf.forall
// CHECK-NOT: :24 = scf.for
// CHECK: %{{.+}}:20 = scf.for
// CHECK: arith.extsi %{{.+}} : vector<16xi8> to vector<16xi16>
// AVX2-LABEL: func.func @tokens_fp8
// AVX2: %{{.+}}:8 = scf.for
func.func @tokens_fp8(%x: tensor<?x256xf32>, %q: tensor<16x256xf8E4M3FN>, %s: tensor<16x2xf32>) -> tensor<?x16xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<16x256xf8E4M3FN>, tensor<16x2xf32> -> tensor<16x256xf32>
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x16xf32>) -> tensor<?x16xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x256xf32>, tensor<16x256xf32>) outs(%init : tensor<?x16xf32>) {
  ^bb0(%xi: f32, %wi: f32, %acc: f32):
    %1 = arith.mulf %xi, %wi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// CHECK-LABEL: func.func @tokens_int8
// CHECK: scf.forall
// CHECK-NOT: :20 = scf.for
// CHECK: %{{.+}}:24 = scf.for
// CHECK: arith.extsi %{{.+}} : vector<16xi8> to vector<16xi32>
// AVX2-LABEL: func.func @tokens_int8
// AVX2: %{{.+}}:8 = scf.for
func.func @tokens_int8(%x: tensor<?x256xf32>, %q: tensor<16x256xi8>, %s: tensor<16x2xf32>) -> tensor<?x16xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<16x256xi8>, tensor<16x2xf32> -> tensor<16x256xf32>
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x16xf32>) -> tensor<?x16xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x256xf32>, tensor<16x256xf32>) outs(%init : tensor<?x16xf32>) {
  ^bb0(%xi: f32, %wi: f32, %acc: f32):
    %1 = arith.mulf %xi, %wi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
