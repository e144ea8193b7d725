// RUN: qnext-opt %s --qnext-outline-layers --split-input-file | FileCheck %s

// Three layers: 0 and 1 are equal up to their weights' names and their
// locations, 2 has another width. Each kind becomes one private function
// (named after its first layer), placed before the entry; the weights stay
// in the caller and are passed in; the constant is cloned into the
// function; the embedding and the final norm (no layer location) stay.
// CHECK-LABEL: func.func private @prefill.layers.0
// CHECK-SAME: (%[[H:.+]]: tensor<?x8xf32>, %[[NW:.+]]: tensor<8xbf16>, %[[W:.+]]: tensor<8x8xbf16>) -> tensor<?x8xf32>
// CHECK-NOT: qnext.param
// CHECK: %[[C:.+]] = arith.constant 0 : index
// CHECK: %[[N:.+]] = qnext.rms_norm %[[H]], %[[NW]]
// CHECK: %[[Y:.+]] = qnext.linear %[[N]], %[[W]]
// CHECK: %[[T:.+]] = tensor.dim %[[Y]], %[[C]]
// CHECK: %[[S:.+]] = tensor.extract_slice %[[Y]][0, 0] [%[[T]], 8] [1, 1]
// CHECK: %[[R:.+]] = arith.addf %[[H]], %[[S]]
// CHECK: return %[[R]]
// CHECK-LABEL: func.func private @prefill.layers.2
// CHECK-SAME: (%{{.+}}: tensor<?x8xf32>, %{{.+}}: tensor<8xbf16>, %{{.+}}: tensor<16x8xbf16>, %{{.+}}: tensor<8x16xbf16>) -> tensor<?x8xf32>
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
  %n0w = qnext.param "model.layers.0.input_layernorm.weight" : tensor<8xbf16> loc("layers.0")
  %n0 = qnext.rms_norm %h0, %n0w : tensor<?x8xf32>, tensor<8xbf16> loc("layers.0")
  %w0 = qnext.param "model.layers.0.mlp.weight" : tensor<8x8xbf16> loc("layers.0")
  %y0 = qnext.linear %n0, %w0 : tensor<?x8xf32>, tensor<8x8xbf16> -> tensor<?x8xf32> loc("layers.0")
  %t0 = tensor.dim %y0, %c : tensor<?x8xf32> loc("layers.0")
  %s0 = tensor.extract_slice %y0[0, 0] [%t0, 8] [1, 1] : tensor<?x8xf32> to tensor<?x8xf32> loc("layers.0")
  %h1 = arith.addf %h0, %s0 : tensor<?x8xf32> loc("layers.0")

  %n1w = qnext.param "model.layers.1.input_layernorm.weight" : tensor<8xbf16> loc("layers.1")
  %n1 = qnext.rms_norm %h1, %n1w : tensor<?x8xf32>, tensor<8xbf16> loc("layers.1")
  %w1 = qnext.param "model.layers.1.mlp.weight" : tensor<8x8xbf16> loc("layers.1")
  %y1 = qnext.linear %n1, %w1 : tensor<?x8xf32>, tensor<8x8xbf16> -> tensor<?x8xf32> loc("layers.1")
  %t1 = tensor.dim %y1, %c : tensor<?x8xf32> loc("layers.1")
  %s1 = tensor.extract_slice %y1[0, 0] [%t1, 8] [1, 1] : tensor<?x8xf32> to tensor<?x8xf32> loc("layers.1")
  %h2 = arith.addf %h1, %s1 : tensor<?x8xf32> loc("layers.1")

  // Weights computed from weights alone stay with the caller too.
  %n2w = qnext.param "model.layers.2.input_layernorm.weight" : tensor<8xbf16> loc("layers.2")
  %n2 = qnext.rms_norm %h2, %n2w : tensor<?x8xf32>, tensor<8xbf16> loc("layers.2")
  %ua = qnext.param "model.layers.2.mlp.a.weight" : tensor<8x8xbf16> loc("layers.2")
  %ub = qnext.param "model.layers.2.mlp.b.weight" : tensor<8x8xbf16> loc("layers.2")
  %u = qnext.concat_weights %ua, %ub {dim = 0 : i64} : tensor<8x8xbf16>, tensor<8x8xbf16> -> tensor<16x8xbf16> loc("layers.2")
  %d = qnext.param "model.layers.2.mlp.down.weight" : tensor<8x16xbf16> loc("layers.2")
  %y2 = qnext.linear %n2, %u : tensor<?x8xf32>, tensor<16x8xbf16> -> tensor<?x16xf32> loc("layers.2")
  %z2 = qnext.linear %y2, %d : tensor<?x16xf32>, tensor<8x16xbf16> -> tensor<?x8xf32> loc("layers.2")
  %h3 = arith.addf %h2, %z2 : tensor<?x8xf32> loc("layers.2")

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
  %w = qnext.param "model.layers.0.conv.weight" : tensor<8x4xbf16> loc("layers.0")
  %y, %s = qnext.causal_conv1d %x, %w, %state {silu} : tensor<1x8xf32>, tensor<8x4xbf16>, tensor<3x8xf32> loc("layers.0")
  %tap = tensor.empty() : tensor<1x8xf32>
  %z = arith.addf %y, %x : tensor<1x8xf32> loc("layers.0")
  return %z, %s : tensor<1x8xf32>, tensor<3x8xf32>
}
