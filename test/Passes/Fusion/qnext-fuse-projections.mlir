// RUN: qnext-opt %s --qnext-fuse-projections --split-input-file | FileCheck %s
// RUN: qnext-opt %s --qnext-fuse-projections="test-misslice-site=0" --split-input-file | FileCheck %s --check-prefix=BROKEN
// RUN: qnext-opt %s --qnext-fuse-projections="row-multiple=1" --split-input-file | FileCheck %s --check-prefix=ANY

// DeltaNet's four input projections (two splits of two parameters) read the
// normed input: one projection on their concatenated rows, each former result
// a slice of its columns, in program order.
// CHECK-LABEL: func.func @deltanet
// CHECK: %[[QKVZ:.+]] = qnext.param "qkvz"
// CHECK: %[[QKV:.+]], %[[Z:.+]] = qnext.split_qkvz %[[QKVZ]]
// CHECK: %[[BA:.+]] = qnext.param "ba"
// CHECK: %[[B:.+]], %[[A:.+]] = qnext.split_ba %[[BA]]
// CHECK: %[[W:.+]] = qnext.concat_weights %[[QKV]], %[[Z]], %[[B]], %[[A]] {dim = 0 : i64} : tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16> -> tensor<392x128xbf16>
// CHECK: %[[Y:.+]] = qnext.linear %arg0, %[[W]] : tensor<?x128xf32>, tensor<392x128xbf16> -> tensor<?x392xf32>
// CHECK: %[[T:.+]] = tensor.dim %[[Y]], %c0
// CHECK: %[[Y0:.+]] = tensor.extract_slice %[[Y]][0, 0] [%[[T]], 256] [1, 1]
// CHECK: %[[Y1:.+]] = tensor.extract_slice %[[Y]][0, 256] [%[[T]], 128] [1, 1]
// CHECK: %[[Y2:.+]] = tensor.extract_slice %[[Y]][0, 384] [%[[T]], 4] [1, 1]
// CHECK: %[[Y3:.+]] = tensor.extract_slice %[[Y]][0, 388] [%[[T]], 4] [1, 1]
// CHECK-NOT: qnext.linear
// CHECK: return %[[Y0]], %[[Y1]], %[[Y2]], %[[Y3]]
// BROKEN-LABEL: func.func @deltanet
// BROKEN: tensor.extract_slice %{{.+}}[0, 384] [%{{.+}}, 4] [1, 1]
// BROKEN: tensor.extract_slice %{{.+}}[0, 387] [%{{.+}}, 4] [1, 1]
func.func @deltanet(%x: tensor<?x128xf32>) -> (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %w = qnext.param "qkvz" : tensor<384x128xbf16>
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64} : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
  %0 = qnext.linear %x, %qkv : tensor<?x128xf32>, tensor<256x128xbf16> -> tensor<?x256xf32>
  %1 = qnext.linear %x, %z : tensor<?x128xf32>, tensor<128x128xbf16> -> tensor<?x128xf32>
  // Defined after the first projection: moved up to where the fused one goes.
  %wba = qnext.param "ba" : tensor<8x128xbf16>
  %b, %a = qnext.split_ba %wba {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  %2 = qnext.linear %x, %b : tensor<?x128xf32>, tensor<4x128xbf16> -> tensor<?x4xf32>
  %3 = qnext.linear %x, %a : tensor<?x128xf32>, tensor<4x128xbf16> -> tensor<?x4xf32>
  return %0, %1, %2, %3 : tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// The MoE's router, shared gate, shared up and shared-expert gate: the
// one-row gate would make the fused rows 201, not a multiple of 4 (the
// projection kernels' register block), so it stays alone; with
// row-multiple=1 all four fuse.
// CHECK-LABEL: func.func @moe
// CHECK: qnext.concat_weights %{{.+}}, %{{.+}}, %{{.+}} {dim = 0 : i64} : tensor<8x128xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16> -> tensor<200x128xbf16>
// CHECK: qnext.linear %{{.+}}, %{{.+}} : tensor<1x128xf32>, tensor<200x128xbf16> -> tensor<1x200xf32>
// CHECK: qnext.linear %{{.+}}, %{{.+}} : tensor<1x128xf32>, tensor<1x128xbf16> -> tensor<1x1xf32>
// ANY-LABEL: func.func @moe
// ANY: qnext.concat_weights {{.+}} -> tensor<201x128xbf16>
// ANY-NOT: qnext.linear %{{.+}}, %{{.+}} : tensor<1x128xf32>, tensor<1x128xbf16>
// ANY: return
func.func @moe(%x: tensor<1x128xf32>) -> (tensor<1x8xf32>, tensor<1x96xf32>, tensor<1x96xf32>, tensor<1x1xf32>) {
  %r = qnext.param "router" : tensor<8x128xbf16>
  %g = qnext.param "gate" : tensor<96x128xbf16>
  %u = qnext.param "up" : tensor<96x128xbf16>
  %s = qnext.param "shared_expert_gate" : tensor<1x128xbf16>
  %0 = qnext.linear %x, %r : tensor<1x128xf32>, tensor<8x128xbf16> -> tensor<1x8xf32>
  %1 = qnext.linear %x, %g : tensor<1x128xf32>, tensor<96x128xbf16> -> tensor<1x96xf32>
  %2 = qnext.linear %x, %u : tensor<1x128xf32>, tensor<96x128xbf16> -> tensor<1x96xf32>
  %3 = qnext.linear %x, %s : tensor<1x128xf32>, tensor<1x128xbf16> -> tensor<1x1xf32>
  return %0, %1, %2, %3 : tensor<1x8xf32>, tensor<1x96xf32>, tensor<1x96xf32>, tensor<1x1xf32>
}

// -----

// Left alone: different inputs; a weight that is not a parameter (the packer
// cannot lay it out); different weight dtypes; a lone projection.
// CHECK-LABEL: func.func @negative
// CHECK-NOT: qnext.concat_weights
// CHECK-NOT: qnext.fused
// CHECK: return
func.func @negative(%x: tensor<1x128xf32>, %y: tensor<1x128xf32>, %arg: tensor<4x128xbf16>)
    -> (tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>) {
  %w0 = qnext.param "w0" : tensor<4x128xbf16>
  %w1 = qnext.param "w1" : tensor<4x128xbf16>
  %w2 = qnext.param "w2" : tensor<4x128xf32>
  %0 = qnext.linear %x, %w0 : tensor<1x128xf32>, tensor<4x128xbf16> -> tensor<1x4xf32>
  %1 = qnext.linear %y, %w1 : tensor<1x128xf32>, tensor<4x128xbf16> -> tensor<1x4xf32>
  %2 = qnext.linear %x, %arg : tensor<1x128xf32>, tensor<4x128xbf16> -> tensor<1x4xf32>
  %3 = qnext.linear %x, %w2 : tensor<1x128xf32>, tensor<4x128xf32> -> tensor<1x4xf32>
  %4 = qnext.linear %y, %arg : tensor<1x128xf32>, tensor<4x128xbf16> -> tensor<1x4xf32>
  return %0, %1, %2, %3, %4 : tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>
}

// -----

// FP8 weights fuse with FP8 weights of the same group: one dequantize of
// the values side by side and of the scales side by side (a weight row and
// its scales stay together). An F32 weight of the same input (what the
// dequantize's result type also is) is stored otherwise and stays alone.
// CHECK-LABEL: func.func @fp8
// CHECK: %[[Q:.+]] = qnext.concat_weights %{{.+}}, %{{.+}} {dim = 0 : i64} : tensor<64x128xf8E4M3FN>, tensor<64x128xf8E4M3FN> -> tensor<128x128xf8E4M3FN>
// CHECK: %[[S:.+]] = qnext.concat_weights %{{.+}}, %{{.+}} {dim = 0 : i64} : tensor<64x1xf32>, tensor<64x1xf32> -> tensor<128x1xf32>
// CHECK: %[[W:.+]] = qnext.dequantize %[[Q]], %[[S]] {group = 128 : i64} : tensor<128x128xf8E4M3FN>, tensor<128x1xf32> -> tensor<128x128xf32>
// CHECK: qnext.linear %{{.+}}, %[[W]] : tensor<1x128xf32>, tensor<128x128xf32> -> tensor<1x128xf32>
// CHECK: qnext.linear %{{.+}}, %{{.+}} : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
// CHECK-NOT: qnext.concat_weights
// CHECK: return
func.func @fp8(%x: tensor<1x128xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>) {
  %gq = qnext.param "gate.weight" : tensor<64x128xf8E4M3FN>
  %gs = qnext.param "gate.weight_scale_inv" {block_rows = 128 : i64} : tensor<64x1xf32>
  %g = qnext.dequantize %gq, %gs {group = 128 : i64} : tensor<64x128xf8E4M3FN>, tensor<64x1xf32> -> tensor<64x128xf32>
  %uq = qnext.param "up.weight" : tensor<64x128xf8E4M3FN>
  %us = qnext.param "up.weight_scale_inv" {block_rows = 128 : i64} : tensor<64x1xf32>
  %u = qnext.dequantize %uq, %us {group = 128 : i64} : tensor<64x128xf8E4M3FN>, tensor<64x1xf32> -> tensor<64x128xf32>
  %f = qnext.param "other.weight" : tensor<64x128xf32>
  %0 = qnext.linear %x, %g : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
  %1 = qnext.linear %x, %u : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
  %2 = qnext.linear %x, %f : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
  return %0, %1, %2 : tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>
}

// -----

// int4 weights fuse with int4 weights of the same group, into one
// dequantize {int4} of the bytes side by side (rows of 64 bytes: 128
// columns). An int8 weight of the same group and input is stored otherwise
// and stays alone.
// CHECK-LABEL: func.func @int4
// CHECK: %[[Q:.+]] = qnext.concat_weights %{{.+}}, %{{.+}} {dim = 0 : i64} : tensor<64x64xi8>, tensor<64x64xi8> -> tensor<128x64xi8>
// CHECK: %[[S:.+]] = qnext.concat_weights %{{.+}}, %{{.+}} {dim = 0 : i64} : tensor<64x1xf32>, tensor<64x1xf32> -> tensor<128x1xf32>
// CHECK: %[[W:.+]] = qnext.dequantize %[[Q]], %[[S]] {group = 128 : i64, int4} : tensor<128x64xi8>, tensor<128x1xf32> -> tensor<128x128xf32>
// CHECK: qnext.linear %{{.+}}, %[[W]] : tensor<1x128xf32>, tensor<128x128xf32> -> tensor<1x128xf32>
// CHECK: qnext.linear %{{.+}}, %{{.+}} : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
// CHECK-NOT: qnext.concat_weights
// CHECK: return
func.func @int4(%x: tensor<1x128xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>) {
  %gq = qnext.param "gate.weight" {quantize = #qnext.quantize<int4, 128, values>} : tensor<64x64xi8>
  %gs = qnext.param "gate.weight" {quantize = #qnext.quantize<int4, 128, scales>} : tensor<64x1xf32>
  %g = qnext.dequantize %gq, %gs {group = 128 : i64, int4} : tensor<64x64xi8>, tensor<64x1xf32> -> tensor<64x128xf32>
  %uq = qnext.param "up.weight" {quantize = #qnext.quantize<int4, 128, values>} : tensor<64x64xi8>
  %us = qnext.param "up.weight" {quantize = #qnext.quantize<int4, 128, scales>} : tensor<64x1xf32>
  %u = qnext.dequantize %uq, %us {group = 128 : i64, int4} : tensor<64x64xi8>, tensor<64x1xf32> -> tensor<64x128xf32>
  %oq = qnext.param "other.weight" {quantize = #qnext.quantize<int8, 128, values>} : tensor<64x128xi8>
  %os = qnext.param "other.weight" {quantize = #qnext.quantize<int8, 128, scales>} : tensor<64x1xf32>
  %o = qnext.dequantize %oq, %os {group = 128 : i64} : tensor<64x128xi8>, tensor<64x1xf32> -> tensor<64x128xf32>
  %0 = qnext.linear %x, %g : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
  %1 = qnext.linear %x, %u : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
  %2 = qnext.linear %x, %o : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
  return %0, %1, %2 : tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>
}
