// RUN: qnext-opt %s | FileCheck %s
// RUN: qnext-opt %s | qnext-opt | FileCheck %s
// RUN: qnext-opt %s --mlir-print-op-generic | qnext-opt | FileCheck %s

// Every qnext op and attribute parses, verifies and prints back in its
// custom form; printing twice (and through the generic form) is stable.

// CHECK-LABEL: func.func @params
func.func @params() -> (tensor<128x128xbf16>, tensor<8x64x128xbf16>) {
  // CHECK: qnext.param "model.layers.0.linear_attn.out_proj.weight" : tensor<128x128xbf16>
  %w = qnext.param "model.layers.0.linear_attn.out_proj.weight" : tensor<128x128xbf16>
  // CHECK: qnext.param "model.layers.0.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xbf16>
  %g = qnext.param "model.layers.0.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xbf16>
  return %w, %g : tensor<128x128xbf16>, tensor<8x64x128xbf16>
}

// An FP8 weight: its values, its block scales (one row per weight row) and
// the dequantize the projections read; the layout ops take both.
// CHECK-LABEL: func.func @quantized
func.func @quantized() -> (tensor<200x256xf32>, tensor<8x64x128xf32>, tensor<256x128xf8E4M3FN>) {
  // CHECK: %[[Q:.*]] = qnext.param "model.layers.0.self_attn.o_proj.weight" : tensor<200x256xf8E4M3FN>
  %q = qnext.param "model.layers.0.self_attn.o_proj.weight" : tensor<200x256xf8E4M3FN>
  // CHECK: %[[S:.*]] = qnext.param "model.layers.0.self_attn.o_proj.weight_scale_inv" {block_rows = 128 : i64} : tensor<200x2xf32>
  %s = qnext.param "model.layers.0.self_attn.o_proj.weight_scale_inv" {block_rows = 128 : i64} : tensor<200x2xf32>
  // CHECK: qnext.dequantize %[[Q]], %[[S]] {group = 128 : i64} : tensor<200x256xf8E4M3FN>, tensor<200x2xf32> -> tensor<200x256xf32>
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<200x256xf8E4M3FN>, tensor<200x2xf32> -> tensor<200x256xf32>
  // A stack of experts: one scale column per expert row.
  %eq = qnext.param "model.layers.0.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xf8E4M3FN>
  %es = qnext.param "model.layers.0.mlp.experts.{e}.gate_proj.weight_scale_inv" {block_rows = 128 : i64} : tensor<8x64x1xf32>
  // CHECK: qnext.dequantize %{{.*}}, %{{.*}} {group = 128 : i64} : tensor<8x64x128xf8E4M3FN>, tensor<8x64x1xf32> -> tensor<8x64x128xf32>
  %e = qnext.dequantize %eq, %es {group = 128 : i64} : tensor<8x64x128xf8E4M3FN>, tensor<8x64x1xf32> -> tensor<8x64x128xf32>
  %qkvz = qnext.param "model.layers.0.linear_attn.in_proj_qkvz.weight" : tensor<384x128xf8E4M3FN>
  // CHECK: qnext.split_qkvz %{{.*}} {{.*}} : tensor<384x128xf8E4M3FN> -> tensor<256x128xf8E4M3FN>, tensor<128x128xf8E4M3FN>
  %qkv, %z = qnext.split_qkvz %qkvz {num_key_heads = 2 : i64, num_value_heads = 4 : i64,
                                     key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xf8E4M3FN> -> tensor<256x128xf8E4M3FN>, tensor<128x128xf8E4M3FN>
  return %w, %e, %qkv : tensor<200x256xf32>, tensor<8x64x128xf32>, tensor<256x128xf8E4M3FN>
}

// int8 made while packing: two parts of one tensor.
// CHECK-LABEL: func.func @int8
func.func @int8() -> tensor<64x200xf32> {
  // CHECK: %[[Q:.*]] = qnext.param "w" {quantize = #qnext.quantize<int8, 128, values>} : tensor<64x200xi8>
  %q = qnext.param "w" {quantize = #qnext.quantize<int8, 128, values>} : tensor<64x200xi8>
  // CHECK: %[[S:.*]] = qnext.param "w" {quantize = #qnext.quantize<int8, 128, scales>} : tensor<64x2xf32>
  %s = qnext.param "w" {quantize = #qnext.quantize<int8, 128, scales>} : tensor<64x2xf32>
  // CHECK: qnext.dequantize %[[Q]], %[[S]] {group = 128 : i64} : tensor<64x200xi8>, tensor<64x2xf32> -> tensor<64x200xf32>
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<64x200xi8>, tensor<64x2xf32> -> tensor<64x200xf32>
  return %w : tensor<64x200xf32>
}

// int4: two values a byte, so the values have half the result's columns.
// CHECK-LABEL: func.func @int4
func.func @int4() -> tensor<64x256xf32> {
  // CHECK: %[[Q:.*]] = qnext.param "w" {quantize = #qnext.quantize<int4, 64, values>} : tensor<64x128xi8>
  %q = qnext.param "w" {quantize = #qnext.quantize<int4, 64, values>} : tensor<64x128xi8>
  // CHECK: %[[S:.*]] = qnext.param "w" {quantize = #qnext.quantize<int4, 64, scales>} : tensor<64x4xf32>
  %s = qnext.param "w" {quantize = #qnext.quantize<int4, 64, scales>} : tensor<64x4xf32>
  // CHECK: qnext.dequantize %[[Q]], %[[S]] {group = 64 : i64, int4} : tensor<64x128xi8>, tensor<64x4xf32> -> tensor<64x256xf32>
  %w = qnext.dequantize %q, %s {group = 64 : i64, int4} : tensor<64x128xi8>, tensor<64x4xf32> -> tensor<64x256xf32>
  return %w : tensor<64x256xf32>
}

// CHECK-LABEL: func.func @weight_layout
func.func @weight_layout(%qkvz: tensor<384x128xbf16>, %ba: tensor<8x128xbf16>)
    -> (tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>) {
  // CHECK: %{{.*}}, %{{.*}} = qnext.split_qkvz %{{.*}} {key_head_dim = 32 : i64, num_key_heads = 2 : i64, num_value_heads = 4 : i64, value_head_dim = 32 : i64} : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
  %qkv, %z = qnext.split_qkvz %qkvz {num_key_heads = 2 : i64, num_value_heads = 4 : i64,
                                     key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
  // CHECK: qnext.split_ba %{{.*}} {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  %b, %a = qnext.split_ba %ba {num_key_heads = 2 : i64, num_value_heads = 4 : i64}
      : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  return %qkv, %z, %b, %a : tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>
}

// CHECK-LABEL: func.func @concat_weights
func.func @concat_weights(%qkv: tensor<256x128xbf16>, %z: tensor<128x128xbf16>,
                          %g: tensor<8x64x128xbf16>, %u: tensor<8x64x128xbf16>)
    -> (tensor<384x128xbf16>, tensor<8x128x128xbf16>) {
  // CHECK: qnext.concat_weights %{{.*}}, %{{.*}} {dim = 0 : i64} : tensor<256x128xbf16>, tensor<128x128xbf16> -> tensor<384x128xbf16>
  %w = qnext.concat_weights %qkv, %z {dim = 0 : i64}
      : tensor<256x128xbf16>, tensor<128x128xbf16> -> tensor<384x128xbf16>
  // CHECK: qnext.concat_weights %{{.*}}, %{{.*}} {dim = 1 : i64} : tensor<8x64x128xbf16>, tensor<8x64x128xbf16> -> tensor<8x128x128xbf16>
  %gu = qnext.concat_weights %g, %u {dim = 1 : i64}
      : tensor<8x64x128xbf16>, tensor<8x64x128xbf16> -> tensor<8x128x128xbf16>
  return %w, %gu : tensor<384x128xbf16>, tensor<8x128x128xbf16>
}

// CHECK-LABEL: func.func @add_rms_norm
func.func @add_rms_norm(%a: tensor<?x128xf32>, %b: tensor<?x128xf32>, %w: tensor<128xbf16>)
    -> (tensor<?x128xf32>, tensor<?x128xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = qnext.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<128xbf16>
  %s, %y = qnext.add_rms_norm %a, %b, %w {epsilon = 1.0e-06 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  // CHECK: qnext.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32, weight_offset = 0.000000e+00 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  %s2, %y2 = qnext.add_rms_norm %s, %y, %w {epsilon = 1.0e-05 : f32, weight_offset = 0.0 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  return %s2, %y2 : tensor<?x128xf32>, tensor<?x128xf32>
}

// CHECK-LABEL: func.func @norm_rope
func.func @norm_rope(%q: tensor<?x4x64xf32>, %w: tensor<64xbf16>, %pos: tensor<?xi32>) -> tensor<?x4x64xf32> {
  // CHECK: qnext.norm_rope %{{.*}}, %{{.*}}, %{{.*}} {rotary_dim = 16 : i64, theta = 1.000000e+07 : f64} : tensor<?x4x64xf32>, tensor<64xbf16>, tensor<?xi32>
  %y = qnext.norm_rope %q, %w, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64}
      : tensor<?x4x64xf32>, tensor<64xbf16>, tensor<?xi32>
  return %y : tensor<?x4x64xf32>
}

// CHECK-LABEL: func.func @embedding_norm_head
func.func @embedding_norm_head(%ids: tensor<?xi32>, %table: tensor<512x128xbf16>,
                               %w: tensor<128xbf16>) -> tensor<?x512xf32> {
  // CHECK: qnext.embedding %{{.*}}, %{{.*}} : tensor<?xi32>, tensor<512x128xbf16> -> tensor<?x128xf32>
  %h = qnext.embedding %ids, %table : tensor<?xi32>, tensor<512x128xbf16> -> tensor<?x128xf32>
  // Default attributes are elided.
  // CHECK: qnext.rms_norm %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<128xbf16>
  %n = qnext.rms_norm %h, %w {epsilon = 1.0e-06 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  // CHECK: qnext.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32, weight_offset = 0.000000e+00 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  %p = qnext.rms_norm %n, %w {epsilon = 1.0e-05 : f32, weight_offset = 0.0 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  // CHECK: qnext.lm_head %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x512xf32>
  %l = qnext.lm_head %p, %w, %table : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// The sequences form of the mixers (a batched prefill): N runs of rows,
// sequence i rows [ends[i-1], ends[i]) of slot slots[i].
// CHECK-LABEL: func.func @layer_sequences
func.func @layer_sequences(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>,
                           %ends: tensor<?xi32>,
                           %conv: tensor<?x3x256xf32>, %rec: tensor<?x4x32x32xf32>,
                           %kc: tensor<?x2x256x64xf32>, %vc: tensor<?x2x256x64xf32>,
                           %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>,
                           %wb: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>,
                           %v4: tensor<4xbf16>, %nw: tensor<32xbf16>, %w128: tensor<128x128xbf16>,
                           %wq: tensor<512x128xbf16>, %wo: tensor<128x256xbf16>,
                           %n64: tensor<64xbf16>) -> tensor<?x128xf32> {
  // CHECK: %[[Y:.*]], %{{.*}}, %{{.*}} = qnext.gated_deltanet %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[SLOTS:.*]], %[[ENDS:.*]] {key_head_dim
  // CHECK-SAME: tensor<128x128xbf16>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wb, %cw, %v4, %v4, %nw, %w128, %slots, %ends
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64,
       value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>, tensor<256x128xbf16>,
         tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>,
         tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<?xi32>,
         tensor<?xi32>)
      -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  // CHECK: qnext.gated_attention %[[Y]], %{{.*}}, %{{.*}}, %{{.*}} slots(%[[SLOTS]]) ends(%[[ENDS]]), %{{.*}} {head_dim = 64 : i64
  // CHECK-SAME: (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>, tensor<?xi32>, tensor<?xi32>, tensor<512x128xbf16>,
  %a, %kc1, %vc1 = qnext.gated_attention %y, %pos, %kc, %vc slots(%slots) ends(%ends), %wq, %w128, %w128, %wo, %n64, %n64
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64,
       rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>,
         tensor<?xi32>, tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>,
         tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>)
      -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  return %a : tensor<?x128xf32>
}

// The rows form of the mixers (a batched decode step): each row one token of
// slot slots[t]; the states have a leading slot dimension.
// CHECK-LABEL: func.func @layer_rows
func.func @layer_rows(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>,
                      %conv: tensor<?x3x256xf32>, %rec: tensor<?x4x32x32xf32>,
                      %kc: tensor<?x2x256x64xf32>, %vc: tensor<?x2x256x64xf32>,
                      %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>,
                      %wb: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>,
                      %v4: tensor<4xbf16>, %nw: tensor<32xbf16>, %w128: tensor<128x128xbf16>,
                      %wq: tensor<512x128xbf16>, %wo: tensor<128x256xbf16>,
                      %n64: tensor<64xbf16>) -> tensor<?x128xf32> {
  // CHECK: %[[Y:.*]], %{{.*}}, %{{.*}} = qnext.gated_deltanet %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[SLOTS:.*]] {key_head_dim
  // CHECK-SAME: tensor<128x128xbf16>, tensor<?xi32>) -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wb, %cw, %v4, %v4, %nw, %w128, %slots
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64,
       value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>, tensor<256x128xbf16>,
         tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>,
         tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<?xi32>)
      -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  // CHECK: qnext.gated_attention %[[Y]], %{{.*}}, %{{.*}}, %{{.*}} slots(%[[SLOTS]]), %{{.*}} {head_dim = 64 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+07 : f64, rotary_dim = 16 : i64}
  // CHECK-SAME: (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>, tensor<?xi32>, tensor<512x128xbf16>,
  // CHECK-SAME: -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  %a, %kc1, %vc1 = qnext.gated_attention %y, %pos, %kc, %vc slots(%slots), %wq, %w128, %w128, %wo, %n64, %n64
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64,
       rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>,
         tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>,
         tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>)
      -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  return %a : tensor<?x128xf32>
}

// CHECK-LABEL: func.func @layers
func.func @layers(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %past: index,
                  %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>,
                  %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>,
                  %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>,
                  %wb: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>,
                  %v4: tensor<4xbf16>, %nw: tensor<32xbf16>, %w128: tensor<128x128xbf16>,
                  %wq: tensor<512x128xbf16>, %wo: tensor<128x256xbf16>, %n64: tensor<64xbf16>,
                  %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>,
                  %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>,
                  %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>,
                  %mg: tensor<256x128xbf16>, %md: tensor<128x256xbf16>) -> tensor<?x128xf32> {
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = qnext.gated_deltanet %{{.*}} {key_head_dim = 32 : i64, num_key_heads = 2 : i64, num_value_heads = 4 : i64, value_head_dim = 32 : i64}
  // CHECK-SAME: : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wb, %cw, %v4, %v4, %nw, %w128
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64,
       value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>,
         tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>,
         tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>)
      -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = qnext.gated_attention %{{.*}} {head_dim = 64 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+07 : f64, rotary_dim = 16 : i64, yarn = #qnext.yarn<factor = 4.000000e+00, original_max_position_embeddings = 262144, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>}
  // CHECK-SAME: -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  %a, %kc1, %vc1 = qnext.gated_attention %y, %pos, %kc, %vc past(%past), %wq, %w128, %w128, %wo, %n64, %n64
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64,
       rope_theta = 1.0e+07 : f64,
       yarn = #qnext.yarn<factor = 4.0, original_max_position_embeddings = 262144,
                          beta_fast = 32.0, beta_slow = 1.0>}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index,
         tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>,
         tensor<64xbf16>, tensor<64xbf16>)
      -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  // CHECK: qnext.moe %{{.*}} {top_k = 2 : i64} : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  %m = qnext.moe %a, %router, %eg, %eg, %ed, %sg, %sg, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>,
         tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>,
         tensor<1x128xbf16>) -> tensor<?x128xf32>
  // CHECK: qnext.moe %{{.*}} {norm_topk_prob = false, top_k = 8 : i64}
  %m2 = qnext.moe %m, %router, %eg, %eg, %ed, %sg, %sg, %sd, %sgate {top_k = 8 : i64, norm_topk_prob = false}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>,
         tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>,
         tensor<1x128xbf16>) -> tensor<?x128xf32>
  // CHECK: qnext.mlp %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<256x128xbf16>, tensor<256x128xbf16>, tensor<128x256xbf16>
  %d = qnext.mlp %m2, %mg, %mg, %md : tensor<?x128xf32>, tensor<256x128xbf16>, tensor<256x128xbf16>, tensor<128x256xbf16>
  return %d : tensor<?x128xf32>
}

// CHECK-LABEL: func.func @deltanet_primitives
func.func @deltanet_primitives(%x: tensor<?x128xf32>, %w: tensor<256x128xbf16>,
                               %taps: tensor<256x4xbf16>, %s0: tensor<3x256xf32>,
                               %q: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>,
                               %a: tensor<?x4xf32>, %alog: tensor<4xbf16>,
                               %st: tensor<4x32x32xf32>, %nw: tensor<32xf32>)
    -> (tensor<?x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  // CHECK: qnext.linear %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<256x128xbf16> -> tensor<?x256xf32>
  %p = qnext.linear %x, %w : tensor<?x128xf32>, tensor<256x128xbf16> -> tensor<?x256xf32>
  // CHECK: qnext.causal_conv1d %{{.*}}, %{{.*}}, %{{.*}} {silu} : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %c, %s1 = qnext.causal_conv1d %p, %taps, %s0 {silu} : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  // CHECK: qnext.causal_conv1d %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x256xf32>
  %c2, %s2 = qnext.causal_conv1d %c, %taps, %s1 : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  // CHECK: qnext.l2_norm %{{.*}} {scale = 0.176776692 : f32} : tensor<?x2x32xf32>
  %qn = qnext.l2_norm %q {scale = 0.176776692 : f32} : tensor<?x2x32xf32>
  // CHECK: qnext.l2_norm %{{.*}} : tensor<?x2x32xf32>
  %kn = qnext.l2_norm %q : tensor<?x2x32xf32>
  // CHECK: qnext.gdn_gates %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  %g, %beta = qnext.gdn_gates %a, %a, %alog, %alog
      : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  // CHECK: qnext.gated_delta_rule %{{.*}} : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %v, %g, %beta, %st
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>,
         tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
  // CHECK: qnext.gated_rms_norm %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x32xf32>, tensor<32xf32>
  %y = qnext.gated_rms_norm %o, %v, %nw : tensor<?x4x32xf32>, tensor<32xf32>
  return %y, %s2, %st1 : tensor<?x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// The fused decode step (qnext-fuse-deltanet-step); l2_epsilon and epsilon
// take their defaults when not written.
// CHECK-LABEL: func.func @deltanet_step
func.func @deltanet_step(%qkv: tensor<1x256xf32>, %taps: tensor<256x4xbf16>,
                         %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>,
                         %b: tensor<1x4xf32>, %alog: tensor<4xbf16>,
                         %st: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>,
                         %nw: tensor<32xbf16>)
    -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  // CHECK: qnext.deltanet_step %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32, num_key_heads = 2 : i64, query_scale = 0.176776692 : f32} : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  %y, %cs1, %st1 = qnext.deltanet_step %qkv, %taps, %cs, %a, %b, %alog, %alog, %st, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.176776692 : f32, epsilon = 1.0e-5 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>,
         tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>,
         tensor<1x4x32xf32>, tensor<32xbf16>)
      -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return %y, %cs1, %st1 : tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// CHECK-LABEL: func.func @attention_primitives
func.func @attention_primitives(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>,
                                %pos: tensor<?xi64>, %kc: tensor<2x256x64xf32>,
                                %past: index) -> tensor<?x4x64xf32> {
  // CHECK: qnext.rope %{{.*}}, %{{.*}} {rotary_dim = 16 : i64, theta = 1.000000e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi64>
  %qr = qnext.rope %q, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi64>
  // CHECK: qnext.rope %{{.*}}, %{{.*}} {rotary_dim = 64 : i64, theta = 1.000000e+04 : f64, yarn = #qnext.yarn<factor = 2.500000e+00, original_max_position_embeddings = 4096, beta_fast = 1.600000e+01, beta_slow = 2.000000e+00>}
  %kr = qnext.rope %k, %pos {rotary_dim = 64 : i64, theta = 1.0e+04 : f64,
      yarn = #qnext.yarn<factor = 2.5, original_max_position_embeddings = 4096, beta_fast = 16.0, beta_slow = 2.0>}
      : tensor<?x2x64xf32>, tensor<?xi64>
  // CHECK: qnext.attention %{{.*}} : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  %o, %kc1, %vc1 = qnext.attention %qr, %kr, %kr, %kc, %kc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>,
         tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  // CHECK: qnext.attention %{{.*}} {scale = 1.250000e-01 : f32}
  %o2, %kc2, %vc2 = qnext.attention %o, %kr, %kr, %kc1, %vc1, %past {scale = 0.125 : f32}
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>,
         tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  // CHECK: qnext.sigmoid_gate %{{.*}}, %{{.*}} : tensor<?x4x64xf32>, tensor<?x4x64xf32>
  %gated = qnext.sigmoid_gate %o2, %qr : tensor<?x4x64xf32>, tensor<?x4x64xf32>
  return %gated : tensor<?x4x64xf32>
}

// CHECK-LABEL: func.func @moe_primitives
func.func @moe_primitives(%x: tensor<?x128xf32>, %logits: tensor<?x8xf32>,
                          %eg: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>,
                          %g: tensor<?x1xf32>) -> tensor<?x128xf32> {
  // CHECK: qnext.router %{{.*}} {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %w, %idx = qnext.router %logits {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  // CHECK: qnext.router %{{.*}} {normalize = false, top_k = 8 : i64} : tensor<?x8xf32> -> tensor<?x8xf32>, tensor<?x8xi64>
  %w8, %idx8 = qnext.router %logits {top_k = 8 : i64, normalize = false} : tensor<?x8xf32> -> tensor<?x8xf32>, tensor<?x8xi64>
  // CHECK: qnext.expert_swiglu %{{.*}} : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  %y = qnext.expert_swiglu %x, %w, %idx, %eg, %eg, %ed
      : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>,
         tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  // CHECK: qnext.silu_mul %{{.*}}, %{{.*}} : tensor<?x128xf32>
  %h = qnext.silu_mul %y, %x : tensor<?x128xf32>
  // CHECK: qnext.sigmoid_gate %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<?x1xf32>
  %s = qnext.sigmoid_gate %h, %g : tensor<?x128xf32>, tensor<?x1xf32>
  return %s : tensor<?x128xf32>
}

// Fusion groups: every kind, one result or several, and the tag their
// lowering puts on other dialects' ops.
// CHECK-LABEL: func.func @fusion_groups
func.func @fusion_groups(%x: tensor<?x128xf32>, %logits: tensor<?x8xf32>,
                         %wg: tensor<64x128xbf16>, %wu: tensor<64x128xbf16>,
                         %nw: tensor<128xbf16>, %gate: tensor<?x128xf32>,
                         %wo: tensor<128x128xbf16>)
    -> (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<?x64xf32>, tensor<?x128xf32>, tensor<?x128xf32>) {
  // CHECK: %[[H:.+]] = qnext.fused <swiglu> : tensor<?x64xf32> {
  // CHECK-NEXT: qnext.linear
  // CHECK-NEXT: qnext.linear
  // CHECK-NEXT: %[[S:.+]] = qnext.silu_mul
  // CHECK-NEXT: qnext.yield %[[S]] : tensor<?x64xf32>
  // CHECK-NEXT: }
  %h = qnext.fused <swiglu> : tensor<?x64xf32> {
    %g = qnext.linear %x, %wg : tensor<?x128xf32>, tensor<64x128xbf16> -> tensor<?x64xf32>
    %u = qnext.linear %x, %wu : tensor<?x128xf32>, tensor<64x128xbf16> -> tensor<?x64xf32>
    %s = qnext.silu_mul %g, %u : tensor<?x64xf32>
    qnext.yield %s : tensor<?x64xf32>
  }
  // CHECK: %{{.+}}:2 = qnext.fused <router> : tensor<?x2xf32>, tensor<?x2xi32> {
  %r:2 = qnext.fused <router> : tensor<?x2xf32>, tensor<?x2xi32> {
    %w, %i = qnext.router %logits {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
    qnext.yield %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
  // CHECK: qnext.fused <norm_linear> : tensor<?x64xf32> {
  %p = qnext.fused <norm_linear> : tensor<?x64xf32> {
    %n = qnext.rms_norm %x, %nw : tensor<?x128xf32>, tensor<128xbf16>
    %y = qnext.linear %n, %wg : tensor<?x128xf32>, tensor<64x128xbf16> -> tensor<?x64xf32>
    qnext.yield %y : tensor<?x64xf32>
  }
  // CHECK: qnext.fused <gate_linear> : tensor<?x128xf32> {
  %o = qnext.fused <gate_linear> : tensor<?x128xf32> {
    %gx = qnext.sigmoid_gate %x, %gate : tensor<?x128xf32>, tensor<?x128xf32>
    %y = qnext.linear %gx, %wo : tensor<?x128xf32>, tensor<128x128xbf16> -> tensor<?x128xf32>
    qnext.yield %y : tensor<?x128xf32>
  }
  // CHECK: arith.addf %{{.+}}, %{{.+}} {qnext.fusion = #qnext.fusion<moe>} : tensor<?x128xf32>
  %t = arith.addf %x, %x {qnext.fusion = #qnext.fusion<moe>} : tensor<?x128xf32>
  return %h, %r#0, %r#1, %p, %o, %t : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<?x64xf32>, tensor<?x128xf32>, tensor<?x128xf32>
}

// The typed side data: the layer an op or a layer function belongs to, the
// names and states of an entry's arguments and results, and the weight plan.
// CHECK-LABEL: module attributes {qnext.weights = [
// CHECK-SAME: #qnext.weight<name = "model.norm.weight", type = tensor<128xbf16>, transform = none, offset = 0, bytes = 256>,
// CHECK-SAME: #qnext.weight<name = "qkvz", type = tensor<12x128xbf16>, transform = qkvz.z, num_key_heads = 1, num_value_heads = 2, key_head_dim = 2, value_head_dim = 6, offset = 256, bytes = 3072>,
// CHECK-SAME: #qnext.weight<name = "a+ba", type = tensor<6x128xf32>, transform = concat, parts = [#qnext.weight<name = "a", type = tensor<4x128xf32>, transform = none>, #qnext.weight<name = "ba", type = tensor<2x128xf32>, transform = ba.a, num_key_heads = 1, num_value_heads = 2>], offset = 3328, bytes = 3072>
// CHECK-SAME: ], qnext.weights_size = 6400 : i64}
module attributes {qnext.weights = [
    #qnext.weight<name = "model.norm.weight", type = tensor<128xbf16>, transform = none, offset = 0, bytes = 256>,
    #qnext.weight<name = "qkvz", type = tensor<12x128xbf16>, transform = qkvz.z, num_key_heads = 1, num_value_heads = 2, key_head_dim = 2, value_head_dim = 6, offset = 256, bytes = 3072>,
    #qnext.weight<name = "a+ba", type = tensor<6x128xf32>, transform = concat, dim = 0,
                  parts = [#qnext.weight<name = "a", type = tensor<4x128xf32>, transform = none>,
                           #qnext.weight<name = "ba", type = tensor<2x128xf32>, transform = ba.a, num_key_heads = 1, num_value_heads = 2>],
                  offset = 3328, bytes = 3072>],
    qnext.weights_size = 6400 : i64} {
  // CHECK: func.func private @decode.layers.3(%{{.+}}: tensor<1x128xf32>) -> tensor<1x128xf32> attributes {qnext.layer = #qnext.layer<3, full_attention>}
  func.func private @decode.layers.3(%x: tensor<1x128xf32>) -> tensor<1x128xf32> attributes {qnext.layer = #qnext.layer<3, full_attention>} {
    // CHECK: arith.addf %{{.+}}, %{{.+}} {qnext.layer = #qnext.layer<0, linear_attention>} : tensor<1x128xf32>
    %y = arith.addf %x, %x {qnext.layer = #qnext.layer<0, linear_attention>} : tensor<1x128xf32>
    return %y : tensor<1x128xf32>
  }
  // CHECK: func.func @decode(%{{.+}}: tensor<1xi32> {qnext.name = "ids"}, %{{.+}}: tensor<3x8xf32> {qnext.state = "layers.0.conv_state"}) -> (tensor<1x8xf32> {qnext.name = "logits"}, tensor<3x8xf32> {qnext.state = "layers.0.conv_state"})
  func.func @decode(%ids: tensor<1xi32> {qnext.name = "ids"}, %s: tensor<3x8xf32> {qnext.state = "layers.0.conv_state"})
      -> (tensor<1x8xf32> {qnext.name = "logits"}, tensor<3x8xf32> {qnext.state = "layers.0.conv_state"}) {
    %l = tensor.empty() : tensor<1x8xf32>
    return %l, %s : tensor<1x8xf32>, tensor<3x8xf32>
  }
}

// byte_dot: vpdpbusd's multiply-add of bytes, 512 and 256 bits; narrow.
// CHECK-LABEL: func.func @byte_dot
func.func @byte_dot(%a: vector<16xi32>, %u: vector<64xi8>, %s: vector<64xi8>,
                    %a8: vector<8xi32>, %u8: vector<32xi8>, %s8: vector<32xi8>)
    -> (vector<16xi32>, vector<8xi32>) {
  // CHECK: qnext.byte_dot %{{.+}}, %{{.+}}, %{{.+}} : vector<64xi8> into vector<16xi32>
  %r = qnext.byte_dot %a, %u, %s : vector<64xi8> into vector<16xi32>
  // CHECK: qnext.byte_dot %{{.+}}, %{{.+}}, %{{.+}} : vector<32xi8> into vector<8xi32>
  %r8 = qnext.byte_dot %a8, %u8, %s8 : vector<32xi8> into vector<8xi32>
  // CHECK: qnext.byte_dot %{{.+}}, %{{.+}}, %{{.+}} narrow : vector<32xi8> into vector<8xi32>
  %n8 = qnext.byte_dot %r8, %u8, %s8 narrow : vector<32xi8> into vector<8xi32>
  return %r, %n8 : vector<16xi32>, vector<8xi32>
}
