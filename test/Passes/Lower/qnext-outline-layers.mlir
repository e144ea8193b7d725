// RUN: qnext-opt %s --qnext-outline-layers --split-input-file | FileCheck %s

// Three layers: 0 and 1 are equal up to their weights' names and their
// qnext.layer, 2 has another width. Each kind becomes one private function
// (named after its first layer), placed before the entry; the weights stay
// in the caller and are passed in; the constant is cloned into the
// function; the embedding and the final norm (no qnext.layer) stay. Each
// weight argument carries its short name (a concatenation's parts joined
// with '+'), by which the kernels are named later.
// CHECK-LABEL: func.func private @prefill.layers.0
// CHECK-SAME: (%[[H:.+]]: tensor<?x8xf32>, %[[NW:.+]]: tensor<8xbf16> {qnext.weight = "input_layernorm"}, %[[W:.+]]: tensor<8x8xbf16> {qnext.weight = "mlp"}) -> tensor<?x8xf32>
// CHECK-SAME: attributes {qnext.layer = #qnext.layer<0, full_attention>}
// CHECK-NOT: qnext.param
// CHECK-NOT: qnext.layer =
// CHECK: %[[C:.+]] = arith.constant 0 : index
// CHECK: %[[N:.+]] = qnext.rms_norm %[[H]], %[[NW]]
// CHECK: %[[Y:.+]] = qnext.linear %[[N]], %[[W]]
// CHECK: %[[T:.+]] = tensor.dim %[[Y]], %[[C]]
// CHECK: %[[S:.+]] = tensor.extract_slice %[[Y]][0, 0] [%[[T]], 8] [1, 1]
// CHECK: %[[R:.+]] = arith.addf %[[H]], %[[S]]
// CHECK: return %[[R]]
// CHECK-LABEL: func.func private @prefill.layers.2
// CHECK-SAME: (%{{.+}}: tensor<?x8xf32>, %{{.+}}: tensor<8xbf16> {qnext.weight = "input_layernorm"}, %{{.+}}: tensor<16x8xbf16> {qnext.weight = "a+b"}, %{{.+}}: tensor<8x16xbf16> {qnext.weight = "down"}) -> tensor<?x8xf32>
// CHECK-SAME: attributes {qnext.layer = #qnext.layer<2, full_attention>}
// CHECK-LABEL: func.func @prefill
// CHECK: %[[E:.+]] = qnext.embedding
// CHECK: qnext.param "model.layers.0.input_layernorm.weight"
// CHECK: qnext.param "model.layers.0.mlp.weight"
// CHECK: %[[L0:.+]] = call @prefill.layers.0(%[[E]], %{{.+}}, %{{.+}}) : (tensor<?x8xf32>, tensor<8xbf16>, tensor<8x8xbf16>) -> tensor<?x8xf32>
// CHECK: qnext.param "model.layers.1.input_layernorm.weight"
// CHECK: %[[L1:.+]] = call @prefill.layers.0(%[[L0]],
// CHECK: qnext.concat_weights
// CHECK: %[[L2:.+]] = call @prefill.layers.2(%[[L1]],
// CHECK: qnext.rms_norm %[[L2]]
// CHECK-NOT: call
// CHECK: return

func.func @prefill(%ids: tensor<?xi32>) -> tensor<?x8xf32> {
  %emb = qnext.param "model.embed_tokens.weight" : tensor<32x8xbf16>
  %h0 = qnext.embedding %ids, %emb : tensor<?xi32>, tensor<32x8xbf16> -> tensor<?x8xf32>

  %c = arith.constant 0 : index
  %n0w = qnext.param "model.layers.0.input_layernorm.weight" {qnext.layer = #qnext.layer<0, full_attention>} : tensor<8xbf16>
  %n0 = qnext.rms_norm %h0, %n0w {qnext.layer = #qnext.layer<0, full_attention>} : tensor<?x8xf32>, tensor<8xbf16>
  %w0 = qnext.param "model.layers.0.mlp.weight" {qnext.layer = #qnext.layer<0, full_attention>} : tensor<8x8xbf16>
  %y0 = qnext.linear %n0, %w0 {qnext.layer = #qnext.layer<0, full_attention>} : tensor<?x8xf32>, tensor<8x8xbf16> -> tensor<?x8xf32>
  %t0 = tensor.dim {qnext.layer = #qnext.layer<0, full_attention>} %y0, %c : tensor<?x8xf32>
  %s0 = tensor.extract_slice %y0[0, 0] [%t0, 8] [1, 1] {qnext.layer = #qnext.layer<0, full_attention>} : tensor<?x8xf32> to tensor<?x8xf32>
  %h1 = arith.addf %h0, %s0 {qnext.layer = #qnext.layer<0, full_attention>} : tensor<?x8xf32>

  %n1w = qnext.param "model.layers.1.input_layernorm.weight" {qnext.layer = #qnext.layer<1, full_attention>} : tensor<8xbf16>
  %n1 = qnext.rms_norm %h1, %n1w {qnext.layer = #qnext.layer<1, full_attention>} : tensor<?x8xf32>, tensor<8xbf16>
  %w1 = qnext.param "model.layers.1.mlp.weight" {qnext.layer = #qnext.layer<1, full_attention>} : tensor<8x8xbf16>
  %y1 = qnext.linear %n1, %w1 {qnext.layer = #qnext.layer<1, full_attention>} : tensor<?x8xf32>, tensor<8x8xbf16> -> tensor<?x8xf32>
  %t1 = tensor.dim {qnext.layer = #qnext.layer<1, full_attention>} %y1, %c : tensor<?x8xf32>
  %s1 = tensor.extract_slice %y1[0, 0] [%t1, 8] [1, 1] {qnext.layer = #qnext.layer<1, full_attention>} : tensor<?x8xf32> to tensor<?x8xf32>
  %h2 = arith.addf %h1, %s1 {qnext.layer = #qnext.layer<1, full_attention>} : tensor<?x8xf32>

  // Weights computed from weights alone stay with the caller too.
  %n2w = qnext.param "model.layers.2.input_layernorm.weight" {qnext.layer = #qnext.layer<2, full_attention>} : tensor<8xbf16>
  %n2 = qnext.rms_norm %h2, %n2w {qnext.layer = #qnext.layer<2, full_attention>} : tensor<?x8xf32>, tensor<8xbf16>
  %ua = qnext.param "model.layers.2.mlp.a.weight" {qnext.layer = #qnext.layer<2, full_attention>} : tensor<8x8xbf16>
  %ub = qnext.param "model.layers.2.mlp.b.weight" {qnext.layer = #qnext.layer<2, full_attention>} : tensor<8x8xbf16>
  %u = qnext.concat_weights %ua, %ub {dim = 0 : i64, qnext.layer = #qnext.layer<2, full_attention>} : tensor<8x8xbf16>, tensor<8x8xbf16> -> tensor<16x8xbf16>
  %d = qnext.param "model.layers.2.mlp.down.weight" {qnext.layer = #qnext.layer<2, full_attention>} : tensor<8x16xbf16>
  %y2 = qnext.linear %n2, %u {qnext.layer = #qnext.layer<2, full_attention>} : tensor<?x8xf32>, tensor<16x8xbf16> -> tensor<?x16xf32>
  %z2 = qnext.linear %y2, %d {qnext.layer = #qnext.layer<2, full_attention>} : tensor<?x16xf32>, tensor<8x16xbf16> -> tensor<?x8xf32>
  %h3 = arith.addf %h2, %z2 {qnext.layer = #qnext.layer<2, full_attention>} : tensor<?x8xf32>

  %nw = qnext.param "model.norm.weight" : tensor<8xbf16>
  %out = qnext.rms_norm %h3, %nw : tensor<?x8xf32>, tensor<8xbf16>
  return %out : tensor<?x8xf32>
}

// -----

// A state the layer updates is an argument and a result; a layer split in
// two by an op outside it (a tap) is two runs, two functions.
// CHECK-LABEL: func.func private @decode.layers.0
// CHECK-SAME: -> (tensor<1x8xf32>, tensor<3x8xf32>)
// CHECK: qnext.causal_conv1d
// CHECK-LABEL: func.func private @decode.layers.0_0
// CHECK-LABEL: func.func @decode
// CHECK-SAME: %[[ST:[a-z0-9]+]]: tensor<3x8xf32>
// CHECK: %[[A:.+]]:2 = call @decode.layers.0(%{{.+}}, %{{.+}}, %[[ST]])
// CHECK: tensor.empty
// CHECK: call @decode.layers.0_0(
// CHECK: return %{{.+}}, %[[A]]#1
func.func @decode(%x: tensor<1x8xf32>, %state: tensor<3x8xf32>) -> (tensor<1x8xf32>, tensor<3x8xf32>) {
  %w = qnext.param "model.layers.0.conv.weight" {qnext.layer = #qnext.layer<0, linear_attention>} : tensor<8x4xbf16>
  %y, %s = qnext.causal_conv1d %x, %w, %state {qnext.layer = #qnext.layer<0, linear_attention>, silu} : tensor<1x8xf32>, tensor<8x4xbf16>, tensor<3x8xf32>
  %tap = tensor.empty() : tensor<1x8xf32>
  %z = arith.addf %y, %x {qnext.layer = #qnext.layer<0, linear_attention>} : tensor<1x8xf32>
  return %z, %s : tensor<1x8xf32>, tensor<3x8xf32>
}

// -----

// An op of no layer between two layers' ops (an add-norm fused across the
// boundary) ends the first run and stays in the caller.
// CHECK-LABEL: func.func private @decode.layers.0
// CHECK-LABEL: func.func private @decode.layers.1
// CHECK-LABEL: func.func @decode
// CHECK: call @decode.layers.0
// CHECK-NEXT: qnext.add_rms_norm
// CHECK: call @decode.layers.1
func.func @decode(%x: tensor<1x8xf32>, %w: tensor<8xbf16>) -> tensor<1x8xf32> {
  %a = arith.mulf %x, %x {qnext.layer = #qnext.layer<0, full_attention>} : tensor<1x8xf32>
  %sum, %n = qnext.add_rms_norm %x, %a, %w : tensor<1x8xf32>, tensor<8xbf16>
  %b = arith.mulf %n, %sum {qnext.layer = #qnext.layer<1, full_attention>} : tensor<1x8xf32>
  return %b : tensor<1x8xf32>
}

// -----

// An FP8 weight: its values and scales stay with the caller and are passed
// in (both named by the weight); the dequantize goes into the function,
// where the kernels read the two.
// CHECK-LABEL: func.func private @decode.layers.0
// CHECK-SAME: (%[[Q:[^ ]+]]: tensor<8x8xf8E4M3FN> {qnext.weight = "o_proj"}, %[[S:[^ ]+]]: tensor<8x1xf32> {qnext.weight = "o_proj"}, %{{[^ ]+}}: tensor<1x8xf32>) -> tensor<1x8xf32>
// CHECK: %[[W:.+]] = qnext.dequantize %[[Q]], %[[S]]
// CHECK: qnext.linear %{{.+}}, %[[W]]
// CHECK-LABEL: func.func @decode
// CHECK: qnext.param "model.layers.0.self_attn.o_proj.weight"
// CHECK: qnext.param "model.layers.0.self_attn.o_proj.weight_scale_inv"
// CHECK-NOT: qnext.dequantize
// CHECK: call @decode.layers.0
func.func @decode(%h: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %q = qnext.param "model.layers.0.self_attn.o_proj.weight" {qnext.layer = #qnext.layer<0, full_attention>} : tensor<8x8xf8E4M3FN>
  %s = qnext.param "model.layers.0.self_attn.o_proj.weight_scale_inv" {block_rows = 128 : i64, qnext.layer = #qnext.layer<0, full_attention>} : tensor<8x1xf32>
  %w = qnext.dequantize %q, %s {group = 128 : i64, qnext.layer = #qnext.layer<0, full_attention>} : tensor<8x8xf8E4M3FN>, tensor<8x1xf32> -> tensor<8x8xf32>
  %y = qnext.linear %h, %w {qnext.layer = #qnext.layer<0, full_attention>} : tensor<1x8xf32>, tensor<8x8xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
