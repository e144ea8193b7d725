// RUN: qnext-opt %s -split-input-file -verify-diagnostics

// One case per verifier diagnostic of every qnext op and attribute.

// param: empty name
func.func @f() {
  // expected-error @+1 {{'qnext.param' op name must not be empty}}
  %w = qnext.param "" : tensor<4xbf16>
  return
}

// -----

// param: two placeholders
func.func @f() {
  // expected-error @+1 {{name may hold the expert placeholder '{e}' at most once, got 'experts.{e}.{e}'}}
  %w = qnext.param "experts.{e}.{e}" : tensor<8x4xbf16>
  return
}

// -----

// param: stacked rank 1
func.func @f() {
  // expected-error @+1 {{a stacked parameter ('{e}' in its name) must have rank >= 2 with the experts first, got 'tensor<8xbf16>'}}
  %w = qnext.param "experts.{e}.bias" : tensor<8xbf16>
  return
}

// -----

// param: dynamic shape
func.func @f() {
  // expected-error @+1 {{result #0 must be statically shaped tensor of}}
  %w = qnext.param "w" : tensor<?x4xbf16>
  return
}

// -----

// param: a dtype no weight is stored in
func.func @f() {
  // expected-error @+1 {{result #0 must be statically shaped tensor of 32-bit float or bfloat16 type or 16-bit float or f8E4M3FN type or 8-bit signless integer values}}
  %w = qnext.param "w" : tensor<4xi16>
  return
}

// -----

// split_qkvz: heads
func.func @f(%w: tensor<384x128xbf16>) {
  // expected-error @+1 {{num_value_heads (3) must be a multiple of num_key_heads (2)}}
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 3 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
  return
}

// -----

// split_qkvz: weight rows
func.func @f(%w: tensor<380x128xbf16>) {
  // expected-error @+1 {{weight has shape [380, 128], expected [2*key_dim+2*value_dim=384, hidden]}}
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<380x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
  return
}

// -----

// split_qkvz: qkv rows
func.func @f(%w: tensor<384x128xbf16>) {
  // expected-error @+1 {{qkv has shape [384, 128], expected [2*key_dim+value_dim=256, hidden=128]}}
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<384x128xbf16>, tensor<128x128xbf16>
  return
}

// -----

// split_qkvz: z hidden
func.func @f(%w: tensor<384x128xbf16>) {
  // expected-error @+1 {{z has shape [128, 64], expected [value_dim=128, hidden=128]}}
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x64xbf16>
  return
}

// -----

// split_qkvz: qkv dtype
func.func @f(%w: tensor<384x128xbf16>) {
  // expected-error @+1 {{qkv has element type 'f32', expected 'bf16' (the weight's)}}
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<256x128xf32>, tensor<128x128xbf16>
  return
}

// -----

// split_qkvz: z dtype
func.func @f(%w: tensor<384x128xbf16>) {
  // expected-error @+1 {{z has element type 'f16', expected 'bf16' (the weight's)}}
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xf16>
  return
}

// -----

// split_qkvz: head dim
func.func @f(%w: tensor<384x128xbf16>) {
  // expected-error @+1 {{key_head_dim (0) must be positive}}
  %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 0 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
  return
}

// -----

// split_ba: heads
func.func @f(%w: tensor<8x128xbf16>) {
  // expected-error @+1 {{num_key_heads (-2) must be positive}}
  %b, %a = qnext.split_ba %w {num_key_heads = -2 : i64, num_value_heads = 4 : i64} : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  return
}

// -----

// split_ba: weight rows
func.func @f(%w: tensor<6x128xbf16>) {
  // expected-error @+1 {{weight has shape [6, 128], expected [2*num_value_heads=8, hidden]}}
  %b, %a = qnext.split_ba %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<6x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  return
}

// -----

// split_ba: b rows
func.func @f(%w: tensor<8x128xbf16>) {
  // expected-error @+1 {{b has shape [8, 128], expected [num_value_heads=4, hidden=128]}}
  %b, %a = qnext.split_ba %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xbf16> -> tensor<8x128xbf16>, tensor<4x128xbf16>
  return
}

// -----

// split_ba: a hidden
func.func @f(%w: tensor<8x128xbf16>) {
  // expected-error @+1 {{a has shape [4, 64], expected [num_value_heads=4, hidden=128]}}
  %b, %a = qnext.split_ba %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x64xbf16>
  return
}

// -----

// split_ba: b dtype
func.func @f(%w: tensor<8x128xbf16>) {
  // expected-error @+1 {{b has element type 'f32', expected 'bf16' (the weight's)}}
  %b, %a = qnext.split_ba %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xbf16> -> tensor<4x128xf32>, tensor<4x128xbf16>
  return
}

// -----

// split_ba: a dtype
func.func @f(%w: tensor<8x128xbf16>) {
  // expected-error @+1 {{a has element type 'f32', expected 'bf16' (the weight's)}}
  %b, %a = qnext.split_ba %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xf32>
  return
}

// -----

// embedding: ids rank
func.func @f(%ids: tensor<?x1xi32>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{ids has shape [?, 1], expected [tokens]}}
  %h = qnext.embedding %ids, %table : tensor<?x1xi32>, tensor<512x128xbf16> -> tensor<?x128xf32>
  return
}

// -----

// embedding: ids dtype
func.func @f(%ids: tensor<?xf32>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %h = qnext.embedding %ids, %table : tensor<?xf32>, tensor<512x128xbf16> -> tensor<?x128xf32>
  return
}

// -----

// embedding: table rank
func.func @f(%ids: tensor<?xi32>, %table: tensor<512x128x1xbf16>) {
  // expected-error @+1 {{table has shape [512, 128, 1], expected [vocab, hidden]}}
  %h = qnext.embedding %ids, %table : tensor<?xi32>, tensor<512x128x1xbf16> -> tensor<?x128xf32>
  return
}

// -----

// embedding: hidden
func.func @f(%ids: tensor<?xi32>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{result has shape [?, 64], expected [tokens, hidden=128]}}
  %h = qnext.embedding %ids, %table : tensor<?xi32>, tensor<512x128xbf16> -> tensor<?x64xf32>
  return
}

// -----

// embedding: tokens
func.func @f(%ids: tensor<5xi32>, %table: tensor<512x128xbf16>) {
  // expected-error @+1 {{result has shape [6, 128], expected [tokens=5, hidden=128]}}
  %h = qnext.embedding %ids, %table : tensor<5xi32>, tensor<512x128xbf16> -> tensor<6x128xf32>
  return
}

// -----

// rms_norm: rank 0
func.func @f(%x: tensor<f32>, %w: tensor<128xbf16>) {
  // expected-error @+1 {{input must have rank >= 1}}
  %y = qnext.rms_norm %x, %w : tensor<f32>, tensor<128xbf16>
  return
}

// -----

// rms_norm: weight
func.func @f(%x: tensor<?x128xf32>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{weight has shape [64], expected [normalized_dim=128]}}
  %y = qnext.rms_norm %x, %w : tensor<?x128xf32>, tensor<64xbf16>
  return
}

// -----

// rms_norm: epsilon
func.func @f(%x: tensor<?x128xf32>, %w: tensor<128xbf16>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = qnext.rms_norm %x, %w {epsilon = 0.0 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  return
}

// -----

// gated_deltanet: heads
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{num_value_heads (5) must be a multiple of num_key_heads (2)}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 5 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: input rank
func.func @f(%x: tensor<?x128x1xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{input has shape [?, 128, 1], expected [tokens, hidden]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128x1xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128x1xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: conv_weight
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<192x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{conv_weight has shape [192, 1, 4], expected [conv_dim=256, 1=1, kernel]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<192x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: kernel
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<0x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x1xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{conv_weight must have a kernel of at least 2 taps}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<0x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x1xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<0x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: conv_state rows
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<4x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{conv_state has shape [4, 256], expected [kernel-1=3, conv_dim=256]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<4x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<4x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: conv_state dtype
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xbf16>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{conv_state has element type 'bf16', expected 'f32' (the input's)}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xbf16>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xbf16>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: recurrent_state
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x16xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{recurrent_state has shape [4, 32, 16], expected [num_value_heads=4, key_head_dim=32, value_head_dim=32]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x16xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x16xf32>)
  return
}

// -----

// gated_deltanet: recurrent_state dtype
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xbf16>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of 32-bit float values}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xbf16>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xbf16>)
  return
}

// -----

// gated_deltanet: w_qkv
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<384x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{w_qkv has shape [384, 128], expected [conv_dim=256, hidden=128]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<384x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: w_z
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x64xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{w_z has shape [128, 64], expected [value_dim=128, hidden=128]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x64xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: w_b
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<2x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{w_b has shape [2, 128], expected [num_value_heads=4, hidden=128]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<2x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: w_a
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<8x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{w_a has shape [8, 128], expected [num_value_heads=4, hidden=128]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<8x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: dt_bias
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<2xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{dt_bias has shape [2], expected [num_value_heads=4]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<2xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: a_log
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4x1xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{a_log has shape [4, 1], expected [num_value_heads=4]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4x1xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: norm_weight
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<128xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{norm_weight has shape [128], expected [value_head_dim=32]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<128xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: out_proj
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x256xbf16>) {
  // expected-error @+1 {{out_proj has shape [128, 256], expected [hidden=128, value_dim=128]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x256xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: result
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{result has type 'tensor<?x128xbf16>', expected 'tensor<?x128xf32>' (the input's)}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xbf16>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: new_conv_state
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{new_conv_state has type 'tensor<3x256xbf16>', expected 'tensor<3x256xf32>' (conv_state's)}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xbf16>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet: new_recurrent_state
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{new_recurrent_state has type 'tensor<?x32x32xf32>', expected 'tensor<4x32x32xf32>' (recurrent_state's)}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<?x32x32xf32>)
  return
}

// -----

// gated_deltanet: epsilon
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64, epsilon = -1.0 : f32}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet rows form: states without the slot dimension
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>, %slots: tensor<?xi32>) {
  // expected-error @+1 {{conv_state has shape [3, 256], expected [slots, kernel-1=3, conv_dim=256]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo, %slots
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<?xi32>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_deltanet rows form: one slot per row
func.func @f(%x: tensor<4x128xf32>, %conv: tensor<?x3x256xf32>, %rec: tensor<?x4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>, %slots: tensor<3xi32>) {
  // expected-error @+1 {{slots has shape [3], expected [tokens=4]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo, %slots
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<4x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<3xi32>) -> (tensor<4x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  return
}

// -----

// gated_attention: past and slots both
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<?x2x256x64xf32>, %vc: tensor<?x2x256x64xf32>, %past: index, %slots: tensor<?xi32>, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{takes either past (a sequence's tokens) or slots (a batch's rows), not both or neither}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past) slots(%slots), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>, index, tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  return
}

// -----

// gated_attention: neither past nor slots
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{takes either past (a sequence's tokens) or slots (a batch's rows), not both or neither}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc, %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention rows form: one slot per row
func.func @f(%x: tensor<4x128xf32>, %pos: tensor<4xi32>, %kc: tensor<?x2x256x64xf32>, %vc: tensor<?x2x256x64xf32>, %slots: tensor<5xi32>, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{slots has shape [5], expected [tokens=4]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc slots(%slots), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<4x128xf32>, tensor<4xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>, tensor<5xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<4x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  return
}

// -----

// gated_attention rows form: the caches of different slot counts
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<3x2x256x64xf32>, %vc: tensor<4x2x256x64xf32>, %slots: tensor<?xi32>, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{v_cache has shape [4, 2, 256, 64], expected [slots=3, num_kv_heads=2, capacity=256, head_dim=64]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc slots(%slots), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<3x2x256x64xf32>, tensor<4x2x256x64xf32>, tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<3x2x256x64xf32>, tensor<4x2x256x64xf32>)
  return
}

// -----

// gated_deltanet rows form: the states of different slot counts
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<3x3x256xf32>, %rec: tensor<2x4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>, %slots: tensor<?xi32>) {
  // expected-error @+1 {{recurrent_state has shape [2, 4, 32, 32], expected [slots=3, num_value_heads=4, key_head_dim=32, value_head_dim=32]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo, %slots
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x3x256xf32>, tensor<2x4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<?xi32>) -> (tensor<?x128xf32>, tensor<3x3x256xf32>, tensor<2x4x32x32xf32>)
  return
}

// -----

// gated_attention rows form: caches without the slot dimension
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %slots: tensor<?xi32>, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{k_cache has shape [2, 256, 64], expected [slots, num_kv_heads=2, capacity, head_dim=64]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc slots(%slots), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: heads
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{num_heads (4) must be a multiple of num_kv_heads (3)}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 3 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: rotary > head_dim
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{rotary_dim (128) must not exceed head_dim (64)}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 128 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: rotary odd
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{rotary_dim (15) must be positive and even}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 15 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: theta
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{rope_theta must be positive}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 0.0 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: epsilon
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64, epsilon = 0.0 : f32}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: input
func.func @f(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{q_proj has shape [512, 128], expected [2*num_heads*head_dim=512, hidden=64]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: positions
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?x1xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{positions has shape [?, 1], expected [tokens]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?x1xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: k_cache
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<4x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{k_cache has shape [4, 256, 64], expected [num_kv_heads=2, capacity, head_dim=64]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<4x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<4x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: v_cache capacity
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x128x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{v_cache has shape [2, 128, 64], expected [num_kv_heads=2, capacity=256, head_dim=64]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x128x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x128x64xf32>)
  return
}

// -----

// gated_attention: q_proj
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<256x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{q_proj has shape [256, 128], expected [2*num_heads*head_dim=512, hidden=128]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: k_proj
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<64x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{k_proj has shape [64, 128], expected [num_kv_heads*head_dim=128, hidden=128]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<64x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: v_proj
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x64xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{v_proj has shape [128, 64], expected [num_kv_heads*head_dim=128, hidden=128]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x64xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: o_proj
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<256x128xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{o_proj has shape [256, 128], expected [hidden=128, num_heads*head_dim=256]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<256x128xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: q_norm
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<128xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{q_norm has shape [128], expected [head_dim=64]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<128xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: k_norm
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<32xbf16>) {
  // expected-error @+1 {{k_norm has shape [32], expected [head_dim=64]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<32xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: result
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{result has type 'tensor<5x128xf32>', expected 'tensor<?x128xf32>' (the input's)}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<5x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: new_k_cache
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{new_k_cache has type 'tensor<2x256x64xbf16>', expected 'tensor<2x256x64xf32>' (k_cache's)}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xbf16>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: new_v_cache
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{new_v_cache has type 'tensor<2x512x64xf32>', expected 'tensor<2x256x64xf32>' (v_cache's)}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x512x64xf32>)
  return
}

// -----

// gated_attention: past
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: i64, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{operand #4 must be index}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, i64, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// moe: input
func.func @f(%x: tensor<128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{input has shape [128], expected [tokens, hidden]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<128xf32>
  return
}

// -----

// moe: router
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x64xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{router has shape [8, 64], expected [num_experts, hidden=128]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x64xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: top_k too large
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{top_k (9) must be in [1, num_experts (8)]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 9 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: top_k zero
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{top_k (0) must be in [1, num_experts (8)]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 0 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: experts_gate
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<4x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{experts_gate has shape [4, 64, 128], expected [num_experts=8, moe_intermediate, hidden=128]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<4x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: experts_up
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x32x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{experts_up has shape [8, 32, 128], expected [num_experts=8, moe_intermediate=64, hidden=128]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x32x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: experts_down
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x64x128xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{experts_down has shape [8, 64, 128], expected [num_experts=8, hidden=128, moe_intermediate=64]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: shared_gate
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x64xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{shared_gate has shape [96, 64], expected [shared_intermediate, hidden=128]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x64xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: shared_up
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<64x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{shared_up has shape [64, 128], expected [shared_intermediate=96, hidden=128]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<64x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: shared_down
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<96x128xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{shared_down has shape [96, 128], expected [hidden=128, shared_intermediate=96]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<1x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: shared_expert_gate
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<2x128xbf16>) {
  // expected-error @+1 {{shared_expert_gate has shape [2, 128], expected [1=1, hidden=128]}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<2x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// moe: result
func.func @f(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>, %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>, %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>) {
  // expected-error @+1 {{result has type 'tensor<?x128xbf16>', expected 'tensor<?x128xf32>' (the input's)}}
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>, tensor<1x128xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// mlp: input
func.func @f(%x: tensor<?x?x128xf32>, %g: tensor<256x128xbf16>, %u: tensor<256x128xbf16>, %d: tensor<128x256xbf16>) {
  // expected-error @+1 {{input has shape [?, ?, 128], expected [tokens, hidden]}}
  %y = qnext.mlp %x, %g, %u, %d : tensor<?x?x128xf32>, tensor<256x128xbf16>, tensor<256x128xbf16>, tensor<128x256xbf16>
  return
}

// -----

// mlp: gate
func.func @f(%x: tensor<?x128xf32>, %g: tensor<256x64xbf16>, %u: tensor<256x128xbf16>, %d: tensor<128x256xbf16>) {
  // expected-error @+1 {{gate has shape [256, 64], expected [intermediate, hidden=128]}}
  %y = qnext.mlp %x, %g, %u, %d : tensor<?x128xf32>, tensor<256x64xbf16>, tensor<256x128xbf16>, tensor<128x256xbf16>
  return
}

// -----

// mlp: up
func.func @f(%x: tensor<?x128xf32>, %g: tensor<256x128xbf16>, %u: tensor<128x128xbf16>, %d: tensor<128x256xbf16>) {
  // expected-error @+1 {{up has shape [128, 128], expected [intermediate=256, hidden=128]}}
  %y = qnext.mlp %x, %g, %u, %d : tensor<?x128xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>
  return
}

// -----

// mlp: down
func.func @f(%x: tensor<?x128xf32>, %g: tensor<256x128xbf16>, %u: tensor<256x128xbf16>, %d: tensor<256x128xbf16>) {
  // expected-error @+1 {{down has shape [256, 128], expected [hidden=128, intermediate=256]}}
  %y = qnext.mlp %x, %g, %u, %d : tensor<?x128xf32>, tensor<256x128xbf16>, tensor<256x128xbf16>, tensor<256x128xbf16>
  return
}

// -----

// lm_head: input
func.func @f(%x: tensor<?xf32>, %n: tensor<128xbf16>, %w: tensor<512x128xbf16>) {
  // expected-error @+1 {{input has shape [?], expected [tokens, hidden]}}
  %y = qnext.lm_head %x, %n, %w : tensor<?xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x512xf32>
  return
}

// -----

// lm_head: norm
func.func @f(%x: tensor<?x128xf32>, %n: tensor<64xbf16>, %w: tensor<512x128xbf16>) {
  // expected-error @+1 {{norm has shape [64], expected [hidden=128]}}
  %y = qnext.lm_head %x, %n, %w : tensor<?x128xf32>, tensor<64xbf16>, tensor<512x128xbf16> -> tensor<?x512xf32>
  return
}

// -----

// lm_head: weight
func.func @f(%x: tensor<?x128xf32>, %n: tensor<128xbf16>, %w: tensor<512x64xbf16>) {
  // expected-error @+1 {{weight has shape [512, 64], expected [vocab, hidden=128]}}
  %y = qnext.lm_head %x, %n, %w : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x64xbf16> -> tensor<?x512xf32>
  return
}

// -----

// lm_head: vocab
func.func @f(%x: tensor<?x128xf32>, %n: tensor<128xbf16>, %w: tensor<512x128xbf16>) {
  // expected-error @+1 {{result has shape [?, 500], expected [tokens, vocab=512]}}
  %y = qnext.lm_head %x, %n, %w : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x500xf32>
  return
}

// -----

// lm_head: dtype
func.func @f(%x: tensor<?x128xf32>, %n: tensor<128xbf16>, %w: tensor<512x128xbf16>) {
  // expected-error @+1 {{result has element type 'bf16', expected 'f32' (the input's)}}
  %y = qnext.lm_head %x, %n, %w : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x512xbf16>
  return
}

// -----

// lm_head: epsilon
func.func @f(%x: tensor<?x128xf32>, %n: tensor<128xbf16>, %w: tensor<512x128xbf16>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = qnext.lm_head %x, %n, %w {epsilon = -1.0 : f32} : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x512xf32>
  return
}

// -----

// linear: input
func.func @f(%x: tensor<2x?x128xf32>, %w: tensor<64x128xbf16>) {
  // expected-error @+1 {{input has shape [2, ?, 128], expected [tokens, in]}}
  %y = qnext.linear %x, %w : tensor<2x?x128xf32>, tensor<64x128xbf16> -> tensor<?x64xf32>
  return
}

// -----

// linear: weight
func.func @f(%x: tensor<?x128xf32>, %w: tensor<64x96xbf16>) {
  // expected-error @+1 {{weight has shape [64, 96], expected [out, in=128]}}
  %y = qnext.linear %x, %w : tensor<?x128xf32>, tensor<64x96xbf16> -> tensor<?x64xf32>
  return
}

// -----

// linear: result
func.func @f(%x: tensor<?x128xf32>, %w: tensor<64x128xbf16>) {
  // expected-error @+1 {{result has shape [?, 32], expected [tokens, out=64]}}
  %y = qnext.linear %x, %w : tensor<?x128xf32>, tensor<64x128xbf16> -> tensor<?x32xf32>
  return
}

// -----

// linear: tokens
func.func @f(%x: tensor<3x128xf32>, %w: tensor<64x128xbf16>) {
  // expected-error @+1 {{result has shape [4, 64], expected [tokens=3, out=64]}}
  %y = qnext.linear %x, %w : tensor<3x128xf32>, tensor<64x128xbf16> -> tensor<4x64xf32>
  return
}

// -----

// linear: dtype
func.func @f(%x: tensor<?x128xf32>, %w: tensor<64x128xbf16>) {
  // expected-error @+1 {{result has element type 'f16', expected 'f32' (the input's)}}
  %y = qnext.linear %x, %w : tensor<?x128xf32>, tensor<64x128xbf16> -> tensor<?x64xf16>
  return
}

// -----

// linear: dynamic weight
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x128xbf16>) {
  // expected-error @+1 {{operand #1 must be statically shaped tensor}}
  %y = qnext.linear %x, %w : tensor<?x128xf32>, tensor<?x128xbf16> -> tensor<?x64xf32>
  return
}

// -----

// gated_rms_norm: rank 0
func.func @f(%o: tensor<f32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{input must have rank >= 1}}
  %y = qnext.gated_rms_norm %o, %o, %w : tensor<f32>, tensor<32xf32>
  return
}

// -----

// gated_rms_norm: weight
func.func @f(%o: tensor<?x4x32xf32>, %z: tensor<?x4x32xf32>, %w: tensor<128xf32>) {
  // expected-error @+1 {{weight has shape [128], expected [normalized_dim=32]}}
  %y = qnext.gated_rms_norm %o, %z, %w : tensor<?x4x32xf32>, tensor<128xf32>
  return
}

// -----

// gated_rms_norm: epsilon
func.func @f(%o: tensor<?x4x32xf32>, %z: tensor<?x4x32xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = qnext.gated_rms_norm %o, %z, %w {epsilon = 0.0 : f32} : tensor<?x4x32xf32>, tensor<32xf32>
  return
}

// -----

// gated_rms_norm: gate type
func.func @f(%o: tensor<?x4x32xf32>, %z: tensor<?x4x32xbf16>, %w: tensor<32xf32>) {
  // expected-error @+1 {{failed to verify that all of {input, gate, result} have same type}}
  %y = "qnext.gated_rms_norm"(%o, %z, %w) : (tensor<?x4x32xf32>, tensor<?x4x32xbf16>, tensor<32xf32>) -> tensor<?x4x32xf32>
  return
}

// -----

// l2_norm: rank 0
func.func @f(%x: tensor<f32>) {
  // expected-error @+1 {{input must have rank >= 1}}
  %y = qnext.l2_norm %x : tensor<f32>
  return
}

// -----

// l2_norm: epsilon
func.func @f(%x: tensor<?x2x32xf32>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = qnext.l2_norm %x {epsilon = 0.0 : f32} : tensor<?x2x32xf32>
  return
}

// -----

// l2_norm: scale
func.func @f(%x: tensor<?x2x32xf32>) {
  // expected-error @+1 {{scale must be positive}}
  %y = qnext.l2_norm %x {scale = -0.5 : f32} : tensor<?x2x32xf32>
  return
}

// -----

// causal_conv1d: input
func.func @f(%x: tensor<?x256x1xf32>, %w: tensor<256x4xbf16>, %s: tensor<3x256xf32>) {
  // expected-error @+1 {{input has shape [?, 256, 1], expected [tokens, channels]}}
  %y, %s1 = qnext.causal_conv1d %x, %w, %s {silu} : tensor<?x256x1xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  return
}

// -----

// causal_conv1d: weight
func.func @f(%x: tensor<?x256xf32>, %w: tensor<128x4xbf16>, %s: tensor<3x256xf32>) {
  // expected-error @+1 {{weight has shape [128, 4], expected [channels=256, kernel]}}
  %y, %s1 = qnext.causal_conv1d %x, %w, %s {silu} : tensor<?x256xf32>, tensor<128x4xbf16>, tensor<3x256xf32>
  return
}

// -----

// causal_conv1d: kernel
func.func @f(%x: tensor<?x256xf32>, %w: tensor<256x1xbf16>, %s: tensor<0x256xf32>) {
  // expected-error @+1 {{weight must have a kernel of at least 2 taps}}
  %y, %s1 = qnext.causal_conv1d %x, %w, %s {silu} : tensor<?x256xf32>, tensor<256x1xbf16>, tensor<0x256xf32>
  return
}

// -----

// causal_conv1d: state
func.func @f(%x: tensor<?x256xf32>, %w: tensor<256x4xbf16>, %s: tensor<4x256xf32>) {
  // expected-error @+1 {{state has shape [4, 256], expected [kernel-1=3, channels=256]}}
  %y, %s1 = qnext.causal_conv1d %x, %w, %s {silu} : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<4x256xf32>
  return
}

// -----

// causal_conv1d: state dtype
func.func @f(%x: tensor<?x256xf32>, %w: tensor<256x4xbf16>, %s: tensor<3x256xbf16>) {
  // expected-error @+1 {{state has element type 'bf16', expected 'f32' (the input's)}}
  %y, %s1 = qnext.causal_conv1d %x, %w, %s {silu} : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xbf16>
  return
}

// -----

// gdn_gates: a
func.func @f(%a: tensor<4xf32>, %b: tensor<?x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>) {
  // expected-error @+1 {{a has shape [4], expected [tokens, num_value_heads]}}
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  return
}

// -----

// gdn_gates: b
func.func @f(%a: tensor<?x4xf32>, %b: tensor<?x8xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>) {
  // expected-error @+1 {{b has shape [?, 8], expected [tokens, num_value_heads=4]}}
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<?x4xf32>, tensor<?x8xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  return
}

// -----

// gdn_gates: a_log
func.func @f(%a: tensor<?x4xf32>, %b: tensor<?x4xf32>, %alog: tensor<8xbf16>, %dt: tensor<4xbf16>) {
  // expected-error @+1 {{a_log has shape [8], expected [num_value_heads=4]}}
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<?x4xf32>, tensor<?x4xf32>, tensor<8xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  return
}

// -----

// gdn_gates: dt_bias
func.func @f(%a: tensor<?x4xf32>, %b: tensor<?x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<2xbf16>) {
  // expected-error @+1 {{dt_bias has shape [2], expected [num_value_heads=4]}}
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<2xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  return
}

// -----

// gdn_gates: g
func.func @f(%a: tensor<?x4xf32>, %b: tensor<?x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>) {
  // expected-error @+1 {{g has shape [?, 2], expected [tokens, num_value_heads=4]}}
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x2xf32>, tensor<?x4xf32>
  return
}

// -----

// gdn_gates: beta
func.func @f(%a: tensor<?x4xf32>, %b: tensor<?x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>) {
  // expected-error @+1 {{beta has shape [?, 4, 1], expected [tokens, num_value_heads=4]}}
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4x1xf32>
  return
}

// -----

// gdn_gates: g dtype
func.func @f(%a: tensor<?x4xf32>, %b: tensor<?x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>) {
  // expected-error @+1 {{result #0 must be ranked tensor of 32-bit float values}}
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xbf16>, tensor<?x4xf32>
  return
}

// -----

// gated_delta_rule: query
func.func @f(%q: tensor<?x64xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{query has shape [?, 64], expected [tokens, num_key_heads, key_head_dim]}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x64xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_delta_rule: key
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x4x32xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{key has shape [?, 2, 16], expected [tokens, num_key_heads=2, key_head_dim=32]}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x16xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_delta_rule: value
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x128xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{value has shape [?, 128], expected [tokens, num_value_heads, value_head_dim]}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x128xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x128xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_delta_rule: heads
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x3x32xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{num_value_heads (3) must be a multiple of num_key_heads (2)}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x3x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x3x32xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_delta_rule: g
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>, %g: tensor<?x2xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{g has shape [?, 2], expected [tokens, num_value_heads=4]}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x2xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_delta_rule: beta tokens
func.func @f(%q: tensor<6x2x32xf32>, %k: tensor<6x2x32xf32>, %v: tensor<6x4x32xf32>, %g: tensor<6x4xf32>, %beta: tensor<5x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{beta has shape [5, 4], expected [tokens=6, num_value_heads=4]}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<6x2x32xf32>, tensor<6x2x32xf32>, tensor<6x4x32xf32>, tensor<6x4xf32>, tensor<5x4xf32>, tensor<4x32x32xf32>) -> (tensor<6x4x32xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_delta_rule: state
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x16xf32>) {
  // expected-error @+1 {{state has shape [4, 32, 16], expected [num_value_heads=4, key_head_dim=32, value_head_dim=32]}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x16xf32>)
  return
}

// -----

// gated_delta_rule: state dtype
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xbf16>) {
  // expected-error @+1 {{operand #5 must be ranked tensor of 32-bit float values}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xbf16>) -> (tensor<?x4x32xf32>, tensor<4x32x32xbf16>)
  return
}

// -----

// gated_delta_rule: result
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{result has type 'tensor<?x4x32xbf16>', expected 'tensor<?x4x32xf32>' (the value's)}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xbf16>, tensor<4x32x32xf32>)
  return
}

// -----

// gated_delta_rule: new_state
func.func @f(%q: tensor<?x2x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>, %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x32x32xf32>) {
  // expected-error @+1 {{new_state has type 'tensor<4x32x?xf32>', expected 'tensor<4x32x32xf32>' (the state's)}}
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x?xf32>)
  return
}

// -----

// deltanet_step: state
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x?xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{state must be a static [num_value_heads, key_head_dim, value_head_dim] tensor}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x?xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x?xf32>)
  return
}

// -----

// deltanet_step: heads
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{num_value_heads (4) must be a multiple of num_key_heads (3)}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 3 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: tokens
func.func @f(%qkv: tensor<?x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{qkv must hold one token (a static leading 1): it is a decode step}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: qkv
func.func @f(%qkv: tensor<1x320xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{qkv has shape [1, 320], expected [tokens=1, 2*Nk*Dk+Nv*Dv=256]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x320xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: qkv element type
func.func @f(%qkv: tensor<1x256xbf16>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{qkv has element type 'bf16', expected 'f32' (the conv state's)}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xbf16>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: conv_weight
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<128x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{conv_weight has shape [128, 4], expected [channels=256, kernel]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<128x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: kernel
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x1xbf16>, %cs: tensor<0x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{conv_weight must have a kernel of at least 2 taps}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x1xbf16>, tensor<0x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<0x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: conv_state
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<2x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{conv_state has shape [2, 256], expected [kernel-1=3, channels=256]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<2x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<2x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: a
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x8xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{a has shape [1, 8], expected [tokens=1, num_value_heads=4]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x8xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: b
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<2x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{b has shape [2, 4], expected [tokens=1, num_value_heads=4]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<2x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: a_log
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<8xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{a_log has shape [8], expected [num_value_heads=4]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<8xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: dt_bias
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<2xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{dt_bias has shape [2], expected [num_value_heads=4]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<2xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: z
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x16xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{z has shape [1, 4, 16], expected [tokens=1, num_value_heads=4, value_head_dim=32]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x16xf32>, tensor<32xbf16>) -> (tensor<1x4x16xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: norm_weight
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<64xbf16>) {
  // expected-error @+1 {{norm_weight has shape [64], expected [value_head_dim=32]}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<64xbf16>) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// deltanet_step: result
func.func @f(%qkv: tensor<1x256xf32>, %w: tensor<256x4xbf16>, %cs: tensor<3x256xf32>, %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>, %s: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>) {
  // expected-error @+1 {{result has type 'tensor<1x4x32xbf16>', expected 'tensor<1x4x32xf32>' (z's)}}
  %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs, %a, %b, %alog, %dt, %s, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.17677669 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>, tensor<1x4x32xf32>, tensor<32xbf16>) -> (tensor<1x4x32xbf16>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return
}

// -----

// rope: input
func.func @f(%x: tensor<?x256xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{input has shape [?, 256], expected [tokens, heads, head_dim]}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x256xf32>, tensor<?xi32>
  return
}

// -----

// rope: positions
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?x?xi32>) {
  // expected-error @+1 {{positions has shape [?, ?], expected [tokens]}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?x?xi32>
  return
}

// -----

// rope: positions tokens
func.func @f(%x: tensor<3x4x64xf32>, %pos: tensor<4xi32>) {
  // expected-error @+1 {{positions has shape [4], expected [tokens=3]}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<3x4x64xf32>, tensor<4xi32>
  return
}

// -----

// rope: positions dtype
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xf32>
  return
}

// -----

// rope: rotary odd
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{rotary_dim (7) must be positive and even}}
  %y = qnext.rope %x, %pos {rotary_dim = 7 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi32>
  return
}

// -----

// rope: rotary zero
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{rotary_dim (0) must be positive and even}}
  %y = qnext.rope %x, %pos {rotary_dim = 0 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi32>
  return
}

// -----

// rope: rotary > head_dim
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{rotary_dim (80) must not exceed head_dim (64)}}
  %y = qnext.rope %x, %pos {rotary_dim = 80 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi32>
  return
}

// -----

// rope: theta
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{theta must be positive}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = -1.0 : f64} : tensor<?x4x64xf32>, tensor<?xi32>
  return
}

// -----

// yarn: factor
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{#qnext.yarn: factor (0.5) must be a finite number >= 1}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64, yarn = #qnext.yarn<factor = 0.5, original_max_position_embeddings = 4096, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x4x64xf32>, tensor<?xi32>
  return
}

// -----

// yarn: original_max_position_embeddings
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{#qnext.yarn: original_max_position_embeddings (0) must be positive}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64, yarn = #qnext.yarn<factor = 4.0, original_max_position_embeddings = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x4x64xf32>, tensor<?xi32>
  return
}

// -----

// yarn: betas
func.func @f(%x: tensor<?x4x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{#qnext.yarn: beta_fast (1) must be greater than beta_slow (32) and both positive}}
  %y = qnext.rope %x, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64, yarn = #qnext.yarn<factor = 4.0, original_max_position_embeddings = 4096, beta_fast = 1.0, beta_slow = 32.0>} : tensor<?x4x64xf32>, tensor<?xi32>
  return
}

// -----

// attention: query
func.func @f(%q: tensor<?x256xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{query has shape [?, 256], expected [tokens, num_heads, head_dim]}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x256xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: key
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{key has shape [?, 2, 32], expected [tokens, num_kv_heads, head_dim=64]}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x32xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: value
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x1x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{value has shape [?, 1, 64], expected [tokens, num_kv_heads=2, value_head_dim]}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x1x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: heads
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x3x64xf32>, %v: tensor<?x3x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{num_heads (4) must be a multiple of num_kv_heads (3)}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x3x64xf32>, tensor<?x3x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: scale
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{scale must be positive}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past {scale = 0.0 : f32}
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: k_cache
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x32xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{k_cache has shape [2, 256, 32], expected [num_kv_heads=2, capacity, head_dim=64]}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x32xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x32xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: v_cache
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x255x64xf32>, %past: index) {
  // expected-error @+1 {{v_cache has shape [2, 255, 64], expected [num_kv_heads=2, capacity=256, value_head_dim=64]}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x255x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x255x64xf32>)
  return
}

// -----

// attention: result
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{result has shape [?, 2, 64], expected [tokens, num_heads=4, value_head_dim=64]}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: result dtype
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{result has element type 'bf16', expected 'f32' (the query's)}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xbf16>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: new_k_cache
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{new_k_cache has type 'tensor<2x128x64xf32>', expected 'tensor<2x256x64xf32>' (k_cache's)}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x128x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// attention: new_v_cache
func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index) {
  // expected-error @+1 {{new_v_cache has type 'tensor<2x256x64xf16>', expected 'tensor<2x256x64xf32>' (v_cache's)}}
  %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf16>)
  return
}

// -----

// sigmoid_gate: shape
func.func @f(%x: tensor<?x4x64xf32>, %g: tensor<?x4x32xf32>) {
  // expected-error @+1 {{gate has shape [?, 4, 32], expected [input, input=4, input=64]}}
  %y = qnext.sigmoid_gate %x, %g : tensor<?x4x64xf32>, tensor<?x4x32xf32>
  return
}

// -----

// sigmoid_gate: rank
func.func @f(%x: tensor<?x4x64xf32>, %g: tensor<?x256xf32>) {
  // expected-error @+1 {{gate has shape [?, 256], expected [input, input=4, input=64]}}
  %y = qnext.sigmoid_gate %x, %g : tensor<?x4x64xf32>, tensor<?x256xf32>
  return
}

// -----

// sigmoid_gate: dtype
func.func @f(%x: tensor<?x4x64xf32>, %g: tensor<?x4x64xbf16>) {
  // expected-error @+1 {{gate has element type 'bf16', expected 'f32' (the input's)}}
  %y = qnext.sigmoid_gate %x, %g : tensor<?x4x64xf32>, tensor<?x4x64xbf16>
  return
}

// -----

// sigmoid_gate: broadcast only on the last axis
func.func @f(%x: tensor<?x4x64xf32>, %g: tensor<?x1x64xf32>) {
  // expected-error @+1 {{gate has shape [?, 1, 64], expected [input, input=4, input=64]}}
  %y = qnext.sigmoid_gate %x, %g : tensor<?x4x64xf32>, tensor<?x1x64xf32>
  return
}

// -----

// silu_mul: types
func.func @f(%g: tensor<?x64xf32>, %u: tensor<?x32xf32>) {
  // expected-error @+1 {{failed to verify that all of {gate, up, result} have same type}}
  %y = "qnext.silu_mul"(%g, %u) : (tensor<?x64xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

// router: logits
func.func @f(%l: tensor<8xf32>) {
  // expected-error @+1 {{logits has shape [8], expected [tokens, num_experts]}}
  %w, %i = qnext.router %l {top_k = 2 : i64} : tensor<8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

// router: top_k
func.func @f(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{top_k (9) must be in [1, num_experts (8)]}}
  %w, %i = qnext.router %l {top_k = 9 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

// router: top_k dynamic experts
func.func @f(%l: tensor<?x?xf32>) {
  // expected-error @+1 {{top_k (0) must be at least 1}}
  %w, %i = qnext.router %l {top_k = 0 : i64} : tensor<?x?xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

// router: weights
func.func @f(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{weights has shape [?, 3], expected [tokens, top_k=2]}}
  %w, %i = qnext.router %l {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x3xf32>, tensor<?x2xi32>
  return
}

// -----

// router: indices
func.func @f(%l: tensor<3x8xf32>) {
  // expected-error @+1 {{indices has shape [4, 2], expected [tokens=3, top_k=2]}}
  %w, %i = qnext.router %l {top_k = 2 : i64} : tensor<3x8xf32> -> tensor<3x2xf32>, tensor<4x2xi32>
  return
}

// -----

// router: weights dtype
func.func @f(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{result #0 must be ranked tensor of 32-bit float values}}
  %w, %i = qnext.router %l {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xbf16>, tensor<?x2xi32>
  return
}

// -----

// expert_swiglu: input
func.func @f(%x: tensor<128xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %g: tensor<8x64x128xbf16>, %u: tensor<8x64x128xbf16>, %d: tensor<8x128x64xbf16>) {
  // expected-error @+1 {{input has shape [128], expected [tokens, hidden]}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<128xf32>
  return
}

// -----

// expert_swiglu: weights
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x2x1xf32>, %i: tensor<?x2xi32>, %g: tensor<8x64x128xbf16>, %u: tensor<8x64x128xbf16>, %d: tensor<8x128x64xbf16>) {
  // expected-error @+1 {{weights has shape [?, 2, 1], expected [tokens, top_k]}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x128xf32>, tensor<?x2x1xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// expert_swiglu: indices
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x2xf32>, %i: tensor<?x3xi32>, %g: tensor<8x64x128xbf16>, %u: tensor<8x64x128xbf16>, %d: tensor<8x128x64xbf16>) {
  // expected-error @+1 {{indices has shape [?, 3], expected [tokens, top_k=2]}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x3xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// expert_swiglu: gate
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %g: tensor<8x64x64xbf16>, %u: tensor<8x64x128xbf16>, %d: tensor<8x128x64xbf16>) {
  // expected-error @+1 {{gate has shape [8, 64, 64], expected [num_experts, intermediate, hidden=128]}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x64xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// expert_swiglu: up
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %g: tensor<8x64x128xbf16>, %u: tensor<4x64x128xbf16>, %d: tensor<8x128x64xbf16>) {
  // expected-error @+1 {{up has shape [4, 64, 128], expected [num_experts=8, intermediate=64, hidden=128]}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<4x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// expert_swiglu: down
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %g: tensor<8x64x128xbf16>, %u: tensor<8x64x128xbf16>, %d: tensor<8x64x128xbf16>) {
  // expected-error @+1 {{down has shape [8, 64, 128], expected [num_experts=8, hidden=128, intermediate=64]}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// expert_swiglu: top_k
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x9xf32>, %i: tensor<?x9xi32>, %g: tensor<8x64x128xbf16>, %u: tensor<8x64x128xbf16>, %d: tensor<8x128x64xbf16>) {
  // expected-error @+1 {{top_k (9) must not exceed num_experts (8)}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x128xf32>, tensor<?x9xf32>, tensor<?x9xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  return
}

// -----

// expert_swiglu: result
func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %g: tensor<8x64x128xbf16>, %u: tensor<8x64x128xbf16>, %d: tensor<8x128x64xbf16>) {
  // expected-error @+1 {{result has type 'tensor<?x128xbf16>', expected 'tensor<?x128xf32>' (the input's)}}
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// concat_weights: one part
func.func @f(%a: tensor<4x128xbf16>) {
  // expected-error @+1 {{'qnext.concat_weights' op needs at least two parts, got 1}}
  %w = qnext.concat_weights %a {dim = 0 : i64} : tensor<4x128xbf16> -> tensor<4x128xbf16>
  return
}

// -----

// concat_weights: dim out of range
func.func @f(%a: tensor<4x128xbf16>, %b: tensor<4x128xbf16>) {
  // expected-error @+1 {{dim 2 is out of range for rank 2}}
  %w = qnext.concat_weights %a, %b {dim = 2 : i64} : tensor<4x128xbf16>, tensor<4x128xbf16> -> tensor<8x128xbf16>
  return
}

// -----

// concat_weights: element type
func.func @f(%a: tensor<4x128xbf16>, %b: tensor<4x128xf32>) {
  // expected-error @+1 {{part 1 has element type 'f32', the result 'bf16'}}
  %w = qnext.concat_weights %a, %b {dim = 0 : i64} : tensor<4x128xbf16>, tensor<4x128xf32> -> tensor<8x128xbf16>
  return
}

// -----

// concat_weights: rank
func.func @f(%a: tensor<4x128xbf16>, %b: tensor<2x4x128xbf16>) {
  // expected-error @+1 {{part 1 has rank 3, the result 2}}
  %w = qnext.concat_weights %a, %b {dim = 0 : i64} : tensor<4x128xbf16>, tensor<2x4x128xbf16> -> tensor<8x128xbf16>
  return
}

// -----

// concat_weights: other dims
func.func @f(%a: tensor<4x128xbf16>, %b: tensor<4x64xbf16>) {
  // expected-error @+1 {{part 1 has size 64 in dim 1, the result 128}}
  %w = qnext.concat_weights %a, %b {dim = 0 : i64} : tensor<4x128xbf16>, tensor<4x64xbf16> -> tensor<8x128xbf16>
  return
}

// -----

// concat_weights: sum
func.func @f(%a: tensor<4x128xbf16>, %b: tensor<4x128xbf16>) {
  // expected-error @+1 {{result has size 9 in dim 0, the parts add up to 8}}
  %w = qnext.concat_weights %a, %b {dim = 0 : i64} : tensor<4x128xbf16>, tensor<4x128xbf16> -> tensor<9x128xbf16>
  return
}

// -----

// add_rms_norm: weight
func.func @f(%a: tensor<?x128xf32>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{weight has shape [64], expected [normalized_dim=128]}}
  %s, %y = qnext.add_rms_norm %a, %a, %w : tensor<?x128xf32>, tensor<64xbf16>
  return
}

// -----

// add_rms_norm: epsilon
func.func @f(%a: tensor<?x128xf32>, %w: tensor<128xbf16>) {
  // expected-error @+1 {{epsilon must be positive}}
  %s, %y = qnext.add_rms_norm %a, %a, %w {epsilon = 0.0 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  return
}

// -----

// norm_rope: weight
func.func @f(%q: tensor<?x4x64xf32>, %w: tensor<32xbf16>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{weight has shape [32], expected [head_dim=64]}}
  %y = qnext.norm_rope %q, %w, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<32xbf16>, tensor<?xi32>
  return
}

// -----

// norm_rope: rotary_dim
func.func @f(%q: tensor<?x4x64xf32>, %w: tensor<64xbf16>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{rotary_dim (128) must not exceed head_dim (64)}}
  %y = qnext.norm_rope %q, %w, %pos {rotary_dim = 128 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<64xbf16>, tensor<?xi32>
  return
}

// -----

// norm_rope: epsilon
func.func @f(%q: tensor<?x4x64xf32>, %w: tensor<64xbf16>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = qnext.norm_rope %q, %w, %pos {epsilon = -1.0 : f32, rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<64xbf16>, tensor<?xi32>
  return
}

// -----

// fused: the yield does not match the results
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'qnext.fused' op yields 1 value(s) of types 'tensor<?x64xf32>' for results of types 'tensor<?x32xf32>'}}
  %h = qnext.fused <swiglu> : tensor<?x32xf32> {
    %s = qnext.silu_mul %x, %x : tensor<?x64xf32>
    qnext.yield %s : tensor<?x64xf32>
  }
  return
}

// -----

// fused: a group without the op its kind is built around
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'qnext.fused' op of kind router holds no a qnext.router}}
  %h = qnext.fused <router> : tensor<?x64xf32> {
    %s = qnext.silu_mul %x, %x : tensor<?x64xf32>
    qnext.yield %s : tensor<?x64xf32>
  }
  return
}

// -----

// fused: norm_linear needs the projection too
func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{'qnext.fused' op of kind norm_linear holds no a qnext.rms_norm or qnext.gated_rms_norm and a qnext.linear}}
  %h = qnext.fused <norm_linear> : tensor<?x64xf32> {
    %n = qnext.rms_norm %x, %w : tensor<?x64xf32>, tensor<64xbf16>
    qnext.yield %n : tensor<?x64xf32>
  }
  return
}

// -----

// fused: groups do not nest
func.func @f(%x: tensor<?x64xf32>) {
  %h = qnext.fused <swiglu> : tensor<?x64xf32> {
    // expected-error @+1 {{'qnext.fused' op is nested in another qnext.fused group}}
    %i = qnext.fused <swiglu> : tensor<?x64xf32> {
      %s = qnext.silu_mul %x, %x : tensor<?x64xf32>
      qnext.yield %s : tensor<?x64xf32>
    }
    %t = qnext.silu_mul %i, %x : tensor<?x64xf32>
    qnext.yield %t : tensor<?x64xf32>
  }
  return
}

// -----

// fused: an unknown kind
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+2 {{expected ::mlir::qnext::FusionKind to be one of: swiglu, moe, norm_linear, gate_linear, router}}
  // expected-error @+1 {{failed to parse QNext_FusionKindAttr parameter 'value'}}
  %h = qnext.fused <attention> : tensor<?x64xf32> {
    qnext.yield %x : tensor<?x64xf32>
  }
  return
}

// -----

// yield: only in a group
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'qnext.yield' op expects parent op 'qnext.fused'}}
  qnext.yield %x : tensor<?x64xf32>
}

// -----

// qnext.fusion: a tag must be a #qnext.fusion
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'qnext.fusion' must be a #qnext.fusion attribute}}
  %t = arith.addf %x, %x {qnext.fusion = "swiglu"} : tensor<?x64xf32>
  return
}

// -----

// qnext.layer: must be a #qnext.layer
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'qnext.layer' must be a #qnext.layer attribute}}
  %t = arith.addf %x, %x {qnext.layer = "layers.3"} : tensor<?x64xf32>
  return
}

// -----

// qnext.layer: never on a constant
func.func @f() {
  // expected-error @+1 {{a constant belongs to no layer ('qnext.layer')}}
  %c = arith.constant {qnext.layer = #qnext.layer<0, linear_attention>} 0 : index
  return
}

// -----

// #qnext.layer: negative index
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{#qnext.layer: index -1 is negative}}
  %t = arith.addf %x, %x {qnext.layer = #qnext.layer<-1, full_attention>} : tensor<?x64xf32>
  return
}

// -----

// qnext.weights: the size goes with it
// expected-error @+1 {{'qnext.weights' and 'qnext.weights_size' go together on a module}}
module attributes {qnext.weights = []} {
}

// -----

// qnext.weights: on a module only
// expected-error @+1 {{'qnext.weights' and 'qnext.weights_size' go together on a module}}
func.func @f() attributes {qnext.weights = [], qnext.weights_size = 0 : i64} {
  return
}

// -----

// qnext.weights: every entry placed
// expected-error @+1 {{'qnext.weights': every entry is a #qnext.weight with an offset}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4xf32>, transform = none>], qnext.weights_size = 64 : i64} {
}

// -----

// qnext.weights: overlapping entries
// expected-error @+1 {{'qnext.weights': 'v' at 8 (16 bytes) overlaps another entry or passes the buffer's end (64)}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4xf32>, transform = none, offset = 0, bytes = 16>, #qnext.weight<name = "v", type = tensor<4xf32>, transform = none, offset = 8, bytes = 16>], qnext.weights_size = 64 : i64} {
}

// -----

// qnext.weights: past the end of the buffer
// expected-error @+1 {{'qnext.weights': 'w' at 64 (16 bytes) overlaps another entry or passes the buffer's end (64)}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4xf32>, transform = none, offset = 64, bytes = 16>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: bytes disagree with the type
// expected-error @+1 {{#qnext.weight 'w': bytes 8 for 'tensor<4xf32>' (expected 16)}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4xf32>, transform = none, offset = 0, bytes = 8>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: offset without bytes
// expected-error @+1 {{#qnext.weight 'w': offset and bytes go together}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4xf32>, transform = none, offset = 0>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: a dtype the packer does not produce
// expected-error @+1 {{#qnext.weight 'w': type 'tensor<4xi16>' is not a static tensor of f32, bf16, f16, f8E4M3FN or i8}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4xi16>, transform = none, offset = 0, bytes = 8>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: a split without its geometry
// expected-error @+1 {{#qnext.weight 'w': the qkvz transforms need key_head_dim and value_head_dim}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4x4xf32>, transform = qkvz.qkv, num_key_heads = 1, num_value_heads = 2, offset = 0, bytes = 64>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: ba heads
// expected-error @+1 {{#qnext.weight 'w': transform ba.b needs num_key_heads and num_value_heads, the second a multiple of the first}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4x4xf32>, transform = ba.b, num_key_heads = 2, num_value_heads = 3, offset = 0, bytes = 64>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: concat without parts
// expected-error @+1 {{#qnext.weight 'w': parts go with transform concat, and only with it}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4x4xf32>, transform = concat, offset = 0, bytes = 64>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: parts that do not add up
// expected-error @+1 {{#qnext.weight 'a+b': the parts add up to 3 along dim 0, not 4}}
module attributes {qnext.weights = [#qnext.weight<name = "a+b", type = tensor<4x4xf32>, transform = concat, parts = [#qnext.weight<name = "a", type = tensor<2x4xf32>, transform = none>, #qnext.weight<name = "b", type = tensor<1x4xf32>, transform = none>], offset = 0, bytes = 64>], qnext.weights_size = 64 : i64} {
}

// -----

// #qnext.weight: a placed part
// expected-error @+1 {{#qnext.weight 'a+b': a part must be a #qnext.weight without offset and not itself a concatenation}}
module attributes {qnext.weights = [#qnext.weight<name = "a+b", type = tensor<4x4xf32>, transform = concat, parts = [#qnext.weight<name = "a", type = tensor<2x4xf32>, transform = none, offset = 0, bytes = 32>, #qnext.weight<name = "b", type = tensor<2x4xf32>, transform = none>], offset = 0, bytes = 64>], qnext.weights_size = 64 : i64} {
}

// -----

// qnext.state: a non-empty string
// expected-error @+1 {{'qnext.state' must be a non-empty string}}
func.func @f(%s: tensor<3x8xf32> {qnext.state = ""}) {
  return
}

// -----

// qnext.name: on arguments and results only
func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'qnext.name' names a function's argument or result, not an operation}}
  %t = arith.addf %x, %x {qnext.name = "x"} : tensor<?x64xf32>
  return
}

// -----

// qnext.weight: a non-empty string
// expected-error @+1 {{'qnext.weight' must be a non-empty string}}
func.func private @f(%w: tensor<4x4xbf16> {qnext.weight = 3 : i64})

// -----

// param: block scales are f32
func.func @f() {
  // expected-error @+1 {{'qnext.param' op block scales (block_rows) are an f32 tensor of rank >= 2, got 'tensor<4x2xbf16>'}}
  %s = qnext.param "w_scale_inv" {block_rows = 128 : i64} : tensor<4x2xbf16>
  return
}

// -----

// param: block_rows positive
func.func @f() {
  // expected-error @+1 {{'qnext.param' op block_rows must be positive, got 0}}
  %s = qnext.param "w_scale_inv" {block_rows = 0 : i64} : tensor<4x2xf32>
  return
}

// -----

// dequantize: one scale per group of a row
func.func @f(%q: tensor<200x256xf8E4M3FN>, %s: tensor<200x1xf32>) -> tensor<200x256xf32> {
  // expected-error @+1 {{'qnext.dequantize' op scales must have one row per weight row and one column per group of 128 columns ('tensor<200x2xf32>'), got 'tensor<200x1xf32>'}}
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<200x256xf8E4M3FN>, tensor<200x1xf32> -> tensor<200x256xf32>
  return %w : tensor<200x256xf32>
}

// -----

// dequantize: a positive group
func.func @f(%q: tensor<4x256xf8E4M3FN>, %s: tensor<4x2xf32>) -> tensor<4x256xf32> {
  // expected-error @+1 {{'qnext.dequantize' op group must be positive, got 0}}
  %w = qnext.dequantize %q, %s {group = 0 : i64} : tensor<4x256xf8E4M3FN>, tensor<4x2xf32> -> tensor<4x256xf32>
  return %w : tensor<4x256xf32>
}

// -----

// dequantize: the result has the values' shape
func.func @f(%q: tensor<4x256xf8E4M3FN>, %s: tensor<4x2xf32>) -> tensor<4x128xf32> {
  // expected-error @+1 {{'qnext.dequantize' op result shape 'tensor<4x128xf32>' differs from the values' 'tensor<4x256xf8E4M3FN>'}}
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<4x256xf8E4M3FN>, tensor<4x2xf32> -> tensor<4x128xf32>
  return %w : tensor<4x128xf32>
}

// -----

// dequantize: values in a quantized format
func.func @f(%q: tensor<4x256xbf16>, %s: tensor<4x2xf32>) -> tensor<4x256xf32> {
  // expected-error @+1 {{'qnext.dequantize' op operand #0 must be statically shaped tensor of f8E4M3FN type or 8-bit signless integer values}}
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<4x256xbf16>, tensor<4x2xf32> -> tensor<4x256xf32>
  return %w : tensor<4x256xf32>
}

// -----

// dequantize: int4 values have half the result's columns
func.func @f(%q: tensor<4x256xi8>, %s: tensor<4x2xf32>) -> tensor<4x256xf32> {
  // expected-error @+1 {{'qnext.dequantize' op result shape 'tensor<4x256xf32>' differs from the values' 'tensor<4x256xi8>' (two columns a byte: 512 columns)}}
  %w = qnext.dequantize %q, %s {group = 128 : i64, int4} : tensor<4x256xi8>, tensor<4x2xf32> -> tensor<4x256xf32>
  return %w : tensor<4x256xf32>
}

// -----

// dequantize: int4 values are bytes
func.func @f(%q: tensor<4x128xf8E4M3FN>, %s: tensor<4x2xf32>) -> tensor<4x256xf32> {
  // expected-error @+1 {{'qnext.dequantize' op int4 values are i8 bytes of two, got 'tensor<4x128xf8E4M3FN>'}}
  %w = qnext.dequantize %q, %s {group = 128 : i64, int4} : tensor<4x128xf8E4M3FN>, tensor<4x2xf32> -> tensor<4x256xf32>
  return %w : tensor<4x256xf32>
}

// -----

// dequantize: an int4 group is a multiple of 32
func.func @f(%q: tensor<4x128xi8>, %s: tensor<4x16xf32>) -> tensor<4x256xf32> {
  // expected-error @+1 {{'qnext.dequantize' op an int4 group is a multiple of 32 (the tile of its layout), got 16}}
  %w = qnext.dequantize %q, %s {group = 16 : i64, int4} : tensor<4x128xi8>, tensor<4x16xf32> -> tensor<4x256xf32>
  return %w : tensor<4x256xf32>
}

// -----

// dequantize: int4 columns in whole tiles of 32
func.func @f(%q: tensor<4x8xi8>, %s: tensor<4x1xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'qnext.dequantize' op int4 columns come in tiles of 32, got 16}}
  %w = qnext.dequantize %q, %s {group = 32 : i64, int4} : tensor<4x8xi8>, tensor<4x1xf32> -> tensor<4x16xf32>
  return %w : tensor<4x16xf32>
}

// -----

// #qnext.weight: block_rows on f32 scales
// expected-error @+1 {{#qnext.weight 'w_scale_inv': block_rows 128 (a block scale's rows) must be positive, on f32}}
module attributes {qnext.weights = [#qnext.weight<name = "w_scale_inv", type = tensor<4x2xbf16>, transform = none, offset = 0, bytes = 16, block_rows = 128>], qnext.weights_size = 64 : i64} {
}

// -----

// param: int8 values are i8
func.func @f() {
  // expected-error @+1 {{'qnext.param' op a quantized weight's values are an i8 tensor of rank >= 2 without block_rows, got 'tensor<4x128xf32>'}}
  %w = qnext.param "w" {quantize = #qnext.quantize<int8, 128, values>} : tensor<4x128xf32>
  return
}

// -----

// param: int8 scales are f32
func.func @f() {
  // expected-error @+1 {{'qnext.param' op a quantized weight's scales are an f32 tensor of rank >= 2 without block_rows, got 'tensor<4x1xi8>'}}
  %w = qnext.param "w" {quantize = #qnext.quantize<int8, 128, scales>} : tensor<4x1xi8>
  return
}

// -----

// #qnext.quantize: a positive group
func.func @f() {
  // expected-error @+1 {{#qnext.quantize: group 0 is not positive}}
  %w = qnext.param "w" {quantize = #qnext.quantize<int8, 0, values>} : tensor<4x128xi8>
  return
}

// -----

// dequantize: int4 bytes read as int8
func.func @f() -> tensor<4x32xf32> {
  %q = qnext.param "w" {quantize = #qnext.quantize<int4, 32, values>} : tensor<4x32xi8>
  %s = qnext.param "w" {quantize = #qnext.quantize<int4, 32, scales>} : tensor<4x1xf32>
  // expected-error @+1 {{'qnext.dequantize' op reads its values as int8 in groups of 32, but their parameter is #qnext.quantize<int4, 32, values>}}
  %w = qnext.dequantize %q, %s {group = 32 : i64} : tensor<4x32xi8>, tensor<4x1xf32> -> tensor<4x32xf32>
  return %w : tensor<4x32xf32>
}

// -----

// dequantize: the parameter's group
func.func @f() -> tensor<4x128xf32> {
  %q = qnext.param "w" {quantize = #qnext.quantize<int8, 128, values>} : tensor<4x128xi8>
  %s = qnext.param "w" {quantize = #qnext.quantize<int8, 128, scales>} : tensor<4x2xf32>
  // expected-error @+1 {{'qnext.dequantize' op reads its values as int8 in groups of 64, but their parameter is #qnext.quantize<int8, 128, values>}}
  %w = qnext.dequantize %q, %s {group = 64 : i64} : tensor<4x128xi8>, tensor<4x2xf32> -> tensor<4x128xf32>
  return %w : tensor<4x128xf32>
}

// -----

// #qnext.quantize: an int4 group is a multiple of 32
func.func @f() {
  // expected-error @+1 {{#qnext.quantize: an int4 group is a multiple of 32 (the tile of its layout), got 48}}
  %w = qnext.param "w" {quantize = #qnext.quantize<int4, 48, values>} : tensor<4x64xi8>
  return
}

// -----

// param: int4 values are whole tiles of 32 columns
func.func @f() {
  // expected-error @+1 {{'qnext.param' op int4 values are bytes of two columns in tiles of 32, so a multiple of 16 per row, got 'tensor<4x40xi8>'}}
  %w = qnext.param "w" {quantize = #qnext.quantize<int4, 32, values>} : tensor<4x40xi8>
  return
}

// -----

// #qnext.weight: a quantized part in its type
// expected-error @+1 {{#qnext.weight 'w': a quantized weight's scales are 'f32', without block_rows}}
module attributes {qnext.weights = [#qnext.weight<name = "w", type = tensor<4x1xi8>, transform = none, offset = 0, bytes = 4, quantize = #qnext.quantize<int8, 128, scales>>], qnext.weights_size = 64 : i64} {
}

// -----

// byte_dot: 8 or 16 lanes
func.func @byte_dot_lanes(%a: vector<4xi32>, %u: vector<16xi8>, %s: vector<16xi8>) -> vector<4xi32> {
  // expected-error @+1 {{'qnext.byte_dot' op accumulates 8 or 16 i32 lanes (vpdpbusd's 256 or 512 bits), got 4}}
  %r = qnext.byte_dot %a, %u, %s : vector<16xi8> into vector<4xi32>
  return %r : vector<4xi32>
}

// -----

// byte_dot: four bytes a lane
func.func @byte_dot_bytes(%a: vector<16xi32>, %u: vector<32xi8>, %s: vector<32xi8>) -> vector<16xi32> {
  // expected-error @+1 {{'qnext.byte_dot' op multiplies 4 bytes per i32 lane: 64 bytes for 16 lanes, got 32}}
  %r = qnext.byte_dot %a, %u, %s : vector<32xi8> into vector<16xi32>
  return %r : vector<16xi32>
}

// -----

// byte_dot: both operands bytes of one type
func.func @byte_dot_types(%a: vector<16xi32>, %u: vector<64xi8>, %s: vector<32xi8>) -> vector<16xi32> {
  // expected-error @+1 {{'qnext.byte_dot' op failed to verify that all of {lhs, rhs} have same type}}
  %r = "qnext.byte_dot"(%a, %u, %s) : (vector<16xi32>, vector<64xi8>, vector<32xi8>) -> vector<16xi32>
  return %r : vector<16xi32>
}

// -----

// gated_deltanet: the sequences form's ends, one per sequence
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<?x3x256xf32>, %rec: tensor<?x4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>, %slots: tensor<3xi32>, %ends: tensor<2xi32>) {
  // expected-error @+1 {{ends has shape [2], expected [sequences=3]}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo, %slots, %ends
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<3xi32>, tensor<2xi32>) -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  return
}

// -----

// gated_deltanet: three batch operands
func.func @f(%x: tensor<?x128xf32>, %conv: tensor<?x3x256xf32>, %rec: tensor<?x4x32x32xf32>, %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>, %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>, %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>, %slots: tensor<?xi32>) {
  // expected-error @+1 {{takes at most two batch operands (slots, then ends)}}
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo, %slots, %slots, %slots
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<?xi32>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  return
}

// -----

// gated_attention: ends without slots
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>, %vc: tensor<2x256x64xf32>, %past: index, %ends: tensor<?xi32>, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{takes ends only with slots}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past) ends(%ends), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index, tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return
}

// -----

// gated_attention: the sequences form's ends, one per sequence
func.func @f(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<?x2x256x64xf32>, %vc: tensor<?x2x256x64xf32>, %slots: tensor<4xi32>, %ends: tensor<5xi32>, %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>) {
  // expected-error @+1 {{ends has shape [5], expected [sequences=4]}}
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc slots(%slots) ends(%ends), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>, tensor<4xi32>, tensor<5xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  return
}
