// RUN: qnext-opt %s --qnext-bind-params | FileCheck %s

// A quantized weight's values and block scales are two packed tensors: the
// values as stored (one byte per e4m3), the scales with one f32 row per
// weight row; a layout op on a weight applies to its values and its scales
// alike, and the scales' entries keep their parameter's block_rows, which
// the packer expands before the transform.

// CHECK: module attributes {qnext.weights = [
// Concatenations are placed first. Block scales side by side (a fused
// projection's) are block scales; the packer expands each part by its own.
// CHECK-SAME: #qnext.weight<name = "a.weight_scale_inv+b.weight_scale_inv", type = tensor<8x1xf32>, transform = concat, parts = [#qnext.weight<name = "a.weight_scale_inv", type = tensor<4x1xf32>, transform = none, block_rows = 128>, #qnext.weight<name = "b.weight_scale_inv", type = tensor<4x1xf32>, transform = none, block_rows = 128>], offset = 0, bytes = 32, block_rows = 128>
// CHECK-SAME: #qnext.weight<name = "o.weight", type = tensor<200x256xf8E4M3FN>, transform = none, offset = 64, bytes = 51200>
// CHECK-SAME: #qnext.weight<name = "o.weight_scale_inv", type = tensor<200x2xf32>, transform = none, offset = 51264, bytes = 1600, block_rows = 128>
// CHECK-SAME: #qnext.weight<name = "qkvz.weight", type = tensor<256x128xf8E4M3FN>, transform = qkvz.qkv, num_key_heads = 2, num_value_heads = 4, key_head_dim = 32, value_head_dim = 32, offset = 52864, bytes = 32768>
// CHECK-SAME: #qnext.weight<name = "qkvz.weight_scale_inv", type = tensor<256x1xf32>, transform = qkvz.qkv, num_key_heads = 2, num_value_heads = 4, key_head_dim = 32, value_head_dim = 32, offset = 85632, bytes = 1024, block_rows = 128>
// The values and the scales of one int8 tensor are two packed tensors (not
// one: their plan keys differ by the part).
// CHECK-SAME: #qnext.weight<name = "int8.weight", type = tensor<64x128xi8>, transform = none, offset = 86656, bytes = 8192, quantize = <int8, 128, values>>
// CHECK-SAME: #qnext.weight<name = "int8.weight", type = tensor<64x1xf32>, transform = none, offset = 94848, bytes = 256, quantize = <int8, 128, scales>>
// CHECK-SAME: ], qnext.weights_size = 95104 : i64}

// CHECK-LABEL: func.func @f(
// CHECK-SAME: %[[W:.+]]: memref<?xi8> {qnext.name = "weights"})
// CHECK-NOT: qnext.param
// CHECK-NOT: qnext.split_qkvz
// CHECK-NOT: qnext.concat_weights
// CHECK: memref.view %[[W]][%{{.+}}][] : memref<?xi8> to memref<200x256xf8E4M3FN>
// CHECK: memref.view %[[W]][%{{.+}}][] : memref<?xi8> to memref<200x2xf32>
// CHECK: qnext.dequantize
func.func @f() -> (tensor<200x256xf32>, tensor<256x128xf32>, tensor<64x128xf32>, tensor<8x1xf32>) {
  %q = qnext.param "o.weight" : tensor<200x256xf8E4M3FN>
  %s = qnext.param "o.weight_scale_inv" {block_rows = 128 : i64} : tensor<200x2xf32>
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<200x256xf8E4M3FN>, tensor<200x2xf32> -> tensor<200x256xf32>
  %qkvz = qnext.param "qkvz.weight" : tensor<384x128xf8E4M3FN>
  %qkv, %z = qnext.split_qkvz %qkvz {num_key_heads = 2 : i64, num_value_heads = 4 : i64,
                                     key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xf8E4M3FN> -> tensor<256x128xf8E4M3FN>, tensor<128x128xf8E4M3FN>
  %sqkvz = qnext.param "qkvz.weight_scale_inv" {block_rows = 128 : i64} : tensor<384x1xf32>
  %sqkv, %sz = qnext.split_qkvz %sqkvz {num_key_heads = 2 : i64, num_value_heads = 4 : i64,
                                        key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x1xf32> -> tensor<256x1xf32>, tensor<128x1xf32>
  %wqkv = qnext.dequantize %qkv, %sqkv {group = 128 : i64} : tensor<256x128xf8E4M3FN>, tensor<256x1xf32> -> tensor<256x128xf32>
  %iq = qnext.param "int8.weight" {quantize = #qnext.quantize<int8, 128, values>} : tensor<64x128xi8>
  %is = qnext.param "int8.weight" {quantize = #qnext.quantize<int8, 128, scales>} : tensor<64x1xf32>
  %wi = qnext.dequantize %iq, %is {group = 128 : i64} : tensor<64x128xi8>, tensor<64x1xf32> -> tensor<64x128xf32>
  %sa = qnext.param "a.weight_scale_inv" {block_rows = 128 : i64} : tensor<4x1xf32>
  %sb = qnext.param "b.weight_scale_inv" {block_rows = 128 : i64} : tensor<4x1xf32>
  %sab = qnext.concat_weights %sa, %sb {dim = 0 : i64} : tensor<4x1xf32>, tensor<4x1xf32> -> tensor<8x1xf32>
  return %w, %wqkv, %wi, %sab : tensor<200x256xf32>, tensor<256x128xf32>, tensor<64x128xf32>, tensor<8x1xf32>
}
