// Every qnext op and attribute parses, verifies and prints back in its
// custom form; printing twice (and through the generic form) is stable.

func.func @params() -> (tensor<128x128xbf16>, tensor<8x64x128xbf16>) {
  %w = qnext.param "model.layers.0.linear_attn.out_proj.weight" : tensor<128x128xbf16>
  %g = qnext.param "model.layers.0.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xbf16>
  return %w, %g : tensor<128x128xbf16>, tensor<8x64x128xbf16>
}

func.func @weight_layout(%qkvz: tensor<384x128xbf16>, %ba: tensor<8x128xbf16>)
    -> (tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>) {
  %qkv, %z = qnext.split_qkvz %qkvz {num_key_heads = 2 : i64, num_value_heads = 4 : i64,
                                     key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
  %b, %a = qnext.split_ba %ba {num_key_heads = 2 : i64, num_value_heads = 4 : i64}
      : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  return %qkv, %z, %b, %a : tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>
}

func.func @embedding_norm_head(%ids: tensor<?xi32>, %table: tensor<512x128xbf16>,
                               %w: tensor<128xbf16>) -> tensor<?x512xf32> {
  %h = qnext.embedding %ids, %table : tensor<?xi32>, tensor<512x128xbf16> -> tensor<?x128xf32>
  // Default attributes are elided.
  %n = qnext.rms_norm %h, %w {epsilon = 1.0e-06 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  %p = qnext.rms_norm %n, %w {epsilon = 1.0e-05 : f32, weight_offset = 0.0 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  %l = qnext.lm_head %p, %w, %table : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

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
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wb, %cw, %v4, %v4, %nw, %w128
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64,
       value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>,
         tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>,
         tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>)
      -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  %a, %kc1, %vc1 = qnext.gated_attention %y, %pos, %kc, %vc past(%past), %wq, %w128, %w128, %wo, %n64, %n64
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64,
       rope_theta = 1.0e+07 : f64,
       yarn = #qnext.yarn<factor = 4.0, original_max_position_embeddings = 262144,
                          beta_fast = 32.0, beta_slow = 1.0>}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index,
         tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>,
         tensor<64xbf16>, tensor<64xbf16>)
      -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  %m = qnext.moe %a, %router, %eg, %eg, %ed, %sg, %sg, %sd, %sgate {top_k = 2 : i64}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>,
         tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>,
         tensor<1x128xbf16>) -> tensor<?x128xf32>
  %m2 = qnext.moe %m, %router, %eg, %eg, %ed, %sg, %sg, %sd, %sgate {top_k = 8 : i64, norm_topk_prob = false}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>,
         tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>,
         tensor<1x128xbf16>) -> tensor<?x128xf32>
  %d = qnext.mlp %m2, %mg, %mg, %md : tensor<?x128xf32>, tensor<256x128xbf16>, tensor<256x128xbf16>, tensor<128x256xbf16>
  return %d : tensor<?x128xf32>
}

func.func @deltanet_primitives(%x: tensor<?x128xf32>, %w: tensor<256x128xbf16>,
                               %taps: tensor<256x4xbf16>, %s0: tensor<3x256xf32>,
                               %q: tensor<?x2x32xf32>, %v: tensor<?x4x32xf32>,
                               %a: tensor<?x4xf32>, %alog: tensor<4xbf16>,
                               %st: tensor<4x32x32xf32>, %nw: tensor<32xf32>)
    -> (tensor<?x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %p = qnext.linear %x, %w : tensor<?x128xf32>, tensor<256x128xbf16> -> tensor<?x256xf32>
  %c, %s1 = qnext.causal_conv1d %p, %taps, %s0 {silu} : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %c2, %s2 = qnext.causal_conv1d %c, %taps, %s1 : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %qn = qnext.l2_norm %q {scale = 0.176776692 : f32} : tensor<?x2x32xf32>
  %kn = qnext.l2_norm %q : tensor<?x2x32xf32>
  %g, %beta = qnext.gdn_gates %a, %a, %alog, %alog
      : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %v, %g, %beta, %st
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>,
         tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
  %y = qnext.gated_rms_norm %o, %v, %nw : tensor<?x4x32xf32>, tensor<32xf32>
  return %y, %s2, %st1 : tensor<?x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

func.func @attention_primitives(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>,
                                %pos: tensor<?xi64>, %kc: tensor<2x256x64xf32>,
                                %past: index) -> tensor<?x4x64xf32> {
  %qr = qnext.rope %q, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi64>
  %kr = qnext.rope %k, %pos {rotary_dim = 64 : i64, theta = 1.0e+04 : f64,
      yarn = #qnext.yarn<factor = 2.5, original_max_position_embeddings = 4096, beta_fast = 16.0, beta_slow = 2.0>}
      : tensor<?x2x64xf32>, tensor<?xi64>
  %o, %kc1, %vc1 = qnext.attention %qr, %kr, %kr, %kc, %kc, %past
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>,
         tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  %o2, %kc2, %vc2 = qnext.attention %o, %kr, %kr, %kc1, %vc1, %past {scale = 0.125 : f32}
      : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>,
         tensor<2x256x64xf32>, index) -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  %gated = qnext.sigmoid_gate %o2, %qr : tensor<?x4x64xf32>, tensor<?x4x64xf32>
  return %gated : tensor<?x4x64xf32>
}

func.func @moe_primitives(%x: tensor<?x128xf32>, %logits: tensor<?x8xf32>,
                          %eg: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>,
                          %g: tensor<?x1xf32>) -> tensor<?x128xf32> {
  %w, %idx = qnext.router %logits {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %w8, %idx8 = qnext.router %logits {top_k = 8 : i64, normalize = false} : tensor<?x8xf32> -> tensor<?x8xf32>, tensor<?x8xi64>
  %y = qnext.expert_swiglu %x, %w, %idx, %eg, %eg, %ed
      : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>,
         tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  %h = qnext.silu_mul %y, %x : tensor<?x128xf32>
  %s = qnext.sigmoid_gate %h, %g : tensor<?x128xf32>, tensor<?x1xf32>
  return %s : tensor<?x128xf32>
}
