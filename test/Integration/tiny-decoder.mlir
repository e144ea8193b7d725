// RUN: qnext-opt %s | FileCheck %s --check-prefix=LAYERS
// RUN: qnext-opt %s | qnext-opt --mlir-print-op-generic | qnext-opt | FileCheck %s --check-prefix=LAYERS
// RUN: qnext-opt %s --qnext-decompose-layers | FileCheck %s --check-prefix=PRIMS \
// RUN:   --implicit-check-not=qnext.gated_deltanet --implicit-check-not=qnext.gated_attention \
// RUN:   --implicit-check-not=qnext.moe --implicit-check-not=qnext.lm_head
// RUN: qnext-opt %s --pass-pipeline="builtin.module(qnext-decompose-layers,canonicalize,cse)" \
// RUN:   --verify-each | FileCheck %s --check-prefix=CLEAN
// RUN: qnext-opt %s --pass-pipeline="builtin.module(qnext-decompose-layers,canonicalize,cse)" \
// RUN:   | grep -c "= qnext.gated_delta_rule" | FileCheck %s --check-prefix=THREE
// RUN: qnext-opt %s --pass-pipeline="builtin.module(qnext-decompose-layers,canonicalize,cse)" \
// RUN:   | grep -c "= qnext.router" | FileCheck %s --check-prefix=FOUR

// A complete tiny Qwen3-Next decoder written by hand, in the sizes of
// ../../../shared/golden (hidden 128, vocab 512; DeltaNet 2 key / 4 value heads
// of 32 with a 4-tap conv; attention 4 query / 2 KV heads of 64, rotary dim
// 16; 8 experts, top-2, expert width 64, shared expert 96), cut to 4 layers:
// layers 0-2 Gated DeltaNet, layer 3 gated attention, a MoE in every layer.
// Every weight is a qnext.param named as in the Hugging Face checkpoint; the
// KV cache and the DeltaNet states are explicit arguments and results.

// LAYERS-LABEL: func.func @forward
// LAYERS: qnext.embedding
// LAYERS-COUNT-3: qnext.gated_deltanet
// LAYERS-NOT: qnext.gated_deltanet
// LAYERS: qnext.gated_attention
// LAYERS: qnext.moe
// LAYERS: qnext.lm_head
// LAYERS: return

// The decomposed decoder: only primitive ops remain.
// PRIMS-LABEL: func.func @forward
// PRIMS: qnext.embedding
// PRIMS-COUNT-3: qnext.gated_delta_rule
// PRIMS: qnext.rope
// PRIMS: qnext.rope
// PRIMS: qnext.attention
// PRIMS: qnext.router
// PRIMS: qnext.expert_swiglu
// PRIMS: qnext.linear
// PRIMS: return

// After canonicalisation and CSE every layer still has its own delta rule,
// router and expert call, and the states flow to the results.
// THREE: {{^}}3{{$}}
// FOUR: {{^}}4{{$}}
// CLEAN-LABEL: func.func @forward
// CLEAN-COUNT-3: qnext.causal_conv1d
// CLEAN: %[[HEAD:.+]] = qnext.param "lm_head.weight" : tensor<512x128xf32>
// CLEAN: %[[LOGITS:.+]] = qnext.linear %{{.+}}, %[[HEAD]] : tensor<?x128xf32>, tensor<512x128xf32> -> tensor<?x512xf32>
// CLEAN: return %[[LOGITS]], %{{.+}} : tensor<?x512xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<2x4096x64xf32>, tensor<2x4096x64xf32>

module {
  func.func @forward(%ids: tensor<?xi32>, %positions: tensor<?xi32>, %past: index,
                     %conv0: tensor<3x256xf32>, %rec0: tensor<4x32x32xf32>,
                     %conv1: tensor<3x256xf32>, %rec1: tensor<4x32x32xf32>,
                     %conv2: tensor<3x256xf32>, %rec2: tensor<4x32x32xf32>,
                     %k3: tensor<2x4096x64xf32>, %v3: tensor<2x4096x64xf32>)
      -> (tensor<?x512xf32>,
          tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>,
          tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<2x4096x64xf32>, tensor<2x4096x64xf32>) {
    %embed = qnext.param "model.embed_tokens.weight" : tensor<512x128xf32>
    %h0 = qnext.embedding %ids, %embed : tensor<?xi32>, tensor<512x128xf32> -> tensor<?x128xf32>

    // Layer 0: Gated DeltaNet + MoE.
    %ln0 = qnext.param "model.layers.0.input_layernorm.weight" : tensor<128xf32>
    %x0 = qnext.rms_norm %h0, %ln0 : tensor<?x128xf32>, tensor<128xf32>
    %qkvz0 = qnext.param "model.layers.0.linear_attn.in_proj_qkvz.weight" : tensor<384x128xf32>
    %wqkv0, %wz0 = qnext.split_qkvz %qkvz0 {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
        : tensor<384x128xf32> -> tensor<256x128xf32>, tensor<128x128xf32>
    %ba0 = qnext.param "model.layers.0.linear_attn.in_proj_ba.weight" : tensor<8x128xf32>
    %wb0, %wa0 = qnext.split_ba %ba0 {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xf32> -> tensor<4x128xf32>, tensor<4x128xf32>
    %cw0 = qnext.param "model.layers.0.linear_attn.conv1d.weight" : tensor<256x1x4xf32>
    %dt0 = qnext.param "model.layers.0.linear_attn.dt_bias" : tensor<4xf32>
    %alog0 = qnext.param "model.layers.0.linear_attn.A_log" : tensor<4xf32>
    %nw0 = qnext.param "model.layers.0.linear_attn.norm.weight" : tensor<32xf32>
    %wo0 = qnext.param "model.layers.0.linear_attn.out_proj.weight" : tensor<128x128xf32>
    %mix0, %conv0_out, %rec0_out = qnext.gated_deltanet %x0, %conv0, %rec0, %wqkv0, %wz0, %wb0, %wa0, %cw0, %dt0, %alog0, %nw0, %wo0
        {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
        : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xf32>, tensor<128x128xf32>,
           tensor<4x128xf32>, tensor<4x128xf32>, tensor<256x1x4xf32>, tensor<4xf32>, tensor<4xf32>,
           tensor<32xf32>, tensor<128x128xf32>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
    %r0 = arith.addf %h0, %mix0 : tensor<?x128xf32>
    %pln0 = qnext.param "model.layers.0.post_attention_layernorm.weight" : tensor<128xf32>
    %m0 = qnext.rms_norm %r0, %pln0 : tensor<?x128xf32>, tensor<128xf32>
    %router0 = qnext.param "model.layers.0.mlp.gate.weight" : tensor<8x128xf32>
    %eg0 = qnext.param "model.layers.0.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xf32>
    %eu0 = qnext.param "model.layers.0.mlp.experts.{e}.up_proj.weight" : tensor<8x64x128xf32>
    %ed0 = qnext.param "model.layers.0.mlp.experts.{e}.down_proj.weight" : tensor<8x128x64xf32>
    %sg0 = qnext.param "model.layers.0.mlp.shared_expert.gate_proj.weight" : tensor<96x128xf32>
    %su0 = qnext.param "model.layers.0.mlp.shared_expert.up_proj.weight" : tensor<96x128xf32>
    %sd0 = qnext.param "model.layers.0.mlp.shared_expert.down_proj.weight" : tensor<128x96xf32>
    %sgate0 = qnext.param "model.layers.0.mlp.shared_expert_gate.weight" : tensor<1x128xf32>
    %moe0 = qnext.moe %m0, %router0, %eg0, %eu0, %ed0, %sg0, %su0, %sd0, %sgate0 {top_k = 2 : i64}
        : (tensor<?x128xf32>, tensor<8x128xf32>, tensor<8x64x128xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>,
           tensor<96x128xf32>, tensor<96x128xf32>, tensor<128x96xf32>, tensor<1x128xf32>) -> tensor<?x128xf32>
    %h1 = arith.addf %r0, %moe0 : tensor<?x128xf32>

    // Layer 1: Gated DeltaNet + MoE.
    %ln1 = qnext.param "model.layers.1.input_layernorm.weight" : tensor<128xf32>
    %x1 = qnext.rms_norm %h1, %ln1 : tensor<?x128xf32>, tensor<128xf32>
    %qkvz1 = qnext.param "model.layers.1.linear_attn.in_proj_qkvz.weight" : tensor<384x128xf32>
    %wqkv1, %wz1 = qnext.split_qkvz %qkvz1 {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
        : tensor<384x128xf32> -> tensor<256x128xf32>, tensor<128x128xf32>
    %ba1 = qnext.param "model.layers.1.linear_attn.in_proj_ba.weight" : tensor<8x128xf32>
    %wb1, %wa1 = qnext.split_ba %ba1 {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xf32> -> tensor<4x128xf32>, tensor<4x128xf32>
    %cw1 = qnext.param "model.layers.1.linear_attn.conv1d.weight" : tensor<256x1x4xf32>
    %dt1 = qnext.param "model.layers.1.linear_attn.dt_bias" : tensor<4xf32>
    %alog1 = qnext.param "model.layers.1.linear_attn.A_log" : tensor<4xf32>
    %nw1 = qnext.param "model.layers.1.linear_attn.norm.weight" : tensor<32xf32>
    %wo1 = qnext.param "model.layers.1.linear_attn.out_proj.weight" : tensor<128x128xf32>
    %mix1, %conv1_out, %rec1_out = qnext.gated_deltanet %x1, %conv1, %rec1, %wqkv1, %wz1, %wb1, %wa1, %cw1, %dt1, %alog1, %nw1, %wo1
        {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
        : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xf32>, tensor<128x128xf32>,
           tensor<4x128xf32>, tensor<4x128xf32>, tensor<256x1x4xf32>, tensor<4xf32>, tensor<4xf32>,
           tensor<32xf32>, tensor<128x128xf32>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
    %r1 = arith.addf %h1, %mix1 : tensor<?x128xf32>
    %pln1 = qnext.param "model.layers.1.post_attention_layernorm.weight" : tensor<128xf32>
    %m1 = qnext.rms_norm %r1, %pln1 : tensor<?x128xf32>, tensor<128xf32>
    %router1 = qnext.param "model.layers.1.mlp.gate.weight" : tensor<8x128xf32>
    %eg1 = qnext.param "model.layers.1.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xf32>
    %eu1 = qnext.param "model.layers.1.mlp.experts.{e}.up_proj.weight" : tensor<8x64x128xf32>
    %ed1 = qnext.param "model.layers.1.mlp.experts.{e}.down_proj.weight" : tensor<8x128x64xf32>
    %sg1 = qnext.param "model.layers.1.mlp.shared_expert.gate_proj.weight" : tensor<96x128xf32>
    %su1 = qnext.param "model.layers.1.mlp.shared_expert.up_proj.weight" : tensor<96x128xf32>
    %sd1 = qnext.param "model.layers.1.mlp.shared_expert.down_proj.weight" : tensor<128x96xf32>
    %sgate1 = qnext.param "model.layers.1.mlp.shared_expert_gate.weight" : tensor<1x128xf32>
    %moe1 = qnext.moe %m1, %router1, %eg1, %eu1, %ed1, %sg1, %su1, %sd1, %sgate1 {top_k = 2 : i64}
        : (tensor<?x128xf32>, tensor<8x128xf32>, tensor<8x64x128xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>,
           tensor<96x128xf32>, tensor<96x128xf32>, tensor<128x96xf32>, tensor<1x128xf32>) -> tensor<?x128xf32>
    %h2 = arith.addf %r1, %moe1 : tensor<?x128xf32>

    // Layer 2: Gated DeltaNet + MoE.
    %ln2 = qnext.param "model.layers.2.input_layernorm.weight" : tensor<128xf32>
    %x2 = qnext.rms_norm %h2, %ln2 : tensor<?x128xf32>, tensor<128xf32>
    %qkvz2 = qnext.param "model.layers.2.linear_attn.in_proj_qkvz.weight" : tensor<384x128xf32>
    %wqkv2, %wz2 = qnext.split_qkvz %qkvz2 {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
        : tensor<384x128xf32> -> tensor<256x128xf32>, tensor<128x128xf32>
    %ba2 = qnext.param "model.layers.2.linear_attn.in_proj_ba.weight" : tensor<8x128xf32>
    %wb2, %wa2 = qnext.split_ba %ba2 {num_key_heads = 2 : i64, num_value_heads = 4 : i64} : tensor<8x128xf32> -> tensor<4x128xf32>, tensor<4x128xf32>
    %cw2 = qnext.param "model.layers.2.linear_attn.conv1d.weight" : tensor<256x1x4xf32>
    %dt2 = qnext.param "model.layers.2.linear_attn.dt_bias" : tensor<4xf32>
    %alog2 = qnext.param "model.layers.2.linear_attn.A_log" : tensor<4xf32>
    %nw2 = qnext.param "model.layers.2.linear_attn.norm.weight" : tensor<32xf32>
    %wo2 = qnext.param "model.layers.2.linear_attn.out_proj.weight" : tensor<128x128xf32>
    %mix2, %conv2_out, %rec2_out = qnext.gated_deltanet %x2, %conv2, %rec2, %wqkv2, %wz2, %wb2, %wa2, %cw2, %dt2, %alog2, %nw2, %wo2
        {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
        : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xf32>, tensor<128x128xf32>,
           tensor<4x128xf32>, tensor<4x128xf32>, tensor<256x1x4xf32>, tensor<4xf32>, tensor<4xf32>,
           tensor<32xf32>, tensor<128x128xf32>) -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
    %r2 = arith.addf %h2, %mix2 : tensor<?x128xf32>
    %pln2 = qnext.param "model.layers.2.post_attention_layernorm.weight" : tensor<128xf32>
    %m2 = qnext.rms_norm %r2, %pln2 : tensor<?x128xf32>, tensor<128xf32>
    %router2 = qnext.param "model.layers.2.mlp.gate.weight" : tensor<8x128xf32>
    %eg2 = qnext.param "model.layers.2.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xf32>
    %eu2 = qnext.param "model.layers.2.mlp.experts.{e}.up_proj.weight" : tensor<8x64x128xf32>
    %ed2 = qnext.param "model.layers.2.mlp.experts.{e}.down_proj.weight" : tensor<8x128x64xf32>
    %sg2 = qnext.param "model.layers.2.mlp.shared_expert.gate_proj.weight" : tensor<96x128xf32>
    %su2 = qnext.param "model.layers.2.mlp.shared_expert.up_proj.weight" : tensor<96x128xf32>
    %sd2 = qnext.param "model.layers.2.mlp.shared_expert.down_proj.weight" : tensor<128x96xf32>
    %sgate2 = qnext.param "model.layers.2.mlp.shared_expert_gate.weight" : tensor<1x128xf32>
    %moe2 = qnext.moe %m2, %router2, %eg2, %eu2, %ed2, %sg2, %su2, %sd2, %sgate2 {top_k = 2 : i64}
        : (tensor<?x128xf32>, tensor<8x128xf32>, tensor<8x64x128xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>,
           tensor<96x128xf32>, tensor<96x128xf32>, tensor<128x96xf32>, tensor<1x128xf32>) -> tensor<?x128xf32>
    %h3 = arith.addf %r2, %moe2 : tensor<?x128xf32>

    // Layer 3: gated attention + MoE.
    %ln3 = qnext.param "model.layers.3.input_layernorm.weight" : tensor<128xf32>
    %x3 = qnext.rms_norm %h3, %ln3 : tensor<?x128xf32>, tensor<128xf32>
    %wq3 = qnext.param "model.layers.3.self_attn.q_proj.weight" : tensor<512x128xf32>
    %wk3 = qnext.param "model.layers.3.self_attn.k_proj.weight" : tensor<128x128xf32>
    %wv3 = qnext.param "model.layers.3.self_attn.v_proj.weight" : tensor<128x128xf32>
    %wo3 = qnext.param "model.layers.3.self_attn.o_proj.weight" : tensor<128x256xf32>
    %qn3 = qnext.param "model.layers.3.self_attn.q_norm.weight" : tensor<64xf32>
    %kn3 = qnext.param "model.layers.3.self_attn.k_norm.weight" : tensor<64xf32>
    %mix3, %k3_out, %v3_out = qnext.gated_attention %x3, %positions, %k3, %v3 past(%past), %wq3, %wk3, %wv3, %wo3, %qn3, %kn3
        {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+04 : f64}
        : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x4096x64xf32>, tensor<2x4096x64xf32>, index, tensor<512x128xf32>,
           tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x256xf32>, tensor<64xf32>, tensor<64xf32>)
        -> (tensor<?x128xf32>, tensor<2x4096x64xf32>, tensor<2x4096x64xf32>)
    %r3 = arith.addf %h3, %mix3 : tensor<?x128xf32>
    %pln3 = qnext.param "model.layers.3.post_attention_layernorm.weight" : tensor<128xf32>
    %m3 = qnext.rms_norm %r3, %pln3 : tensor<?x128xf32>, tensor<128xf32>
    %router3 = qnext.param "model.layers.3.mlp.gate.weight" : tensor<8x128xf32>
    %eg3 = qnext.param "model.layers.3.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xf32>
    %eu3 = qnext.param "model.layers.3.mlp.experts.{e}.up_proj.weight" : tensor<8x64x128xf32>
    %ed3 = qnext.param "model.layers.3.mlp.experts.{e}.down_proj.weight" : tensor<8x128x64xf32>
    %sg3 = qnext.param "model.layers.3.mlp.shared_expert.gate_proj.weight" : tensor<96x128xf32>
    %su3 = qnext.param "model.layers.3.mlp.shared_expert.up_proj.weight" : tensor<96x128xf32>
    %sd3 = qnext.param "model.layers.3.mlp.shared_expert.down_proj.weight" : tensor<128x96xf32>
    %sgate3 = qnext.param "model.layers.3.mlp.shared_expert_gate.weight" : tensor<1x128xf32>
    %moe3 = qnext.moe %m3, %router3, %eg3, %eu3, %ed3, %sg3, %su3, %sd3, %sgate3 {top_k = 2 : i64}
        : (tensor<?x128xf32>, tensor<8x128xf32>, tensor<8x64x128xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>,
           tensor<96x128xf32>, tensor<96x128xf32>, tensor<128x96xf32>, tensor<1x128xf32>) -> tensor<?x128xf32>
    %h4 = arith.addf %r3, %moe3 : tensor<?x128xf32>

    // Final norm and vocabulary projection.
    %norm = qnext.param "model.norm.weight" : tensor<128xf32>
    %head = qnext.param "lm_head.weight" : tensor<512x128xf32>
    %logits = qnext.lm_head %h4, %norm, %head : tensor<?x128xf32>, tensor<128xf32>, tensor<512x128xf32> -> tensor<?x512xf32>
    return %logits, %conv0_out, %rec0_out, %conv1_out, %rec1_out, %conv2_out, %rec2_out, %k3_out, %v3_out
        : tensor<?x512xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>,
          tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<2x4096x64xf32>, tensor<2x4096x64xf32>
  }
}
