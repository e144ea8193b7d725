// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 token-tile=64 activations=bf16" --canonicalize --cse | FileCheck %s
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=8 activations=bf16" --canonicalize --cse | FileCheck %s --check-prefix=AVX2

// activations=bf16: a kernel of bf16 weights rounds its input to bf16 and
// multiplies the weights' values as they are, 2 x vector-width columns a
// step, with x86vector.avx512.dot (vdpbf16ps: pairs of bf16 products summed
// into f32 lanes), then sums the lanes as the f32 path does.

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// Several tokens: each tile's input rows are rounded once, before the
// forall over row blocks, into a [tokens, K] bf16 tensor the blocks read.
// CHECK-LABEL: func.func @prompt_bf16
// CHECK-SAME: (%[[W:.+]]: tensor<8x64xbf16>, %[[X:.+]]: tensor<?x64xf32>)
// CHECK: scf.for %[[T0:[^ ]+]] =
// CHECK: %[[ROUND:.+]] = scf.for %[[T:[^ ]+]] = %[[T0]] to
// CHECK: %[[R:.+]] = arith.subi %[[T]], %[[T0]] : index
// CHECK: scf.for %[[C:[^ ]+]] =
// CHECK: %[[XF:.+]] = vector.transfer_read %[[X]][%[[T]], %[[C]]]{{.*}} : tensor<?x64xf32>, vector<32xf32>
// CHECK: %[[XB:.+]] = arith.truncf %[[XF]] : vector<32xf32> to vector<32xbf16>
// CHECK: vector.transfer_write %[[XB]], %{{.+}}[%[[R]], %[[C]]] {{.+}} : vector<32xbf16>, tensor<?x64xbf16>
// CHECK: scf.forall
// A block of tokens from the tile's: their rows of the rounded tile, each
// token's index less the tile's first.
// CHECK: scf.for %[[TB:[^ ]+]] =
// CHECK: %[[RB:.+]] = arith.subi %[[TB]], %[[T0]] : index
// A block's K loop: 32 columns a step, each weight vector read once as
// bf16 and multiplied by every token's rounded input.
// CHECK: scf.for %[[K:[^ ]+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args
// CHECK: %[[XV:.+]] = vector.transfer_read %[[ROUND]][%[[RB]], %[[K]]]{{.*}} : tensor<?x64xbf16>, vector<32xbf16>
// CHECK: %[[WV:.+]] = vector.transfer_read %[[W]][%{{.+}}, %[[K]]]{{.*}} : tensor<8x64xbf16>, vector<32xbf16>
// CHECK-NOT: arith.extf
// CHECK: x86vector.avx512.dot %{{.+}}, %[[WV]], %[[XV]] : vector<32xbf16> -> vector<16xf32>
// CHECK: vector.reduction <add>
// AVX2-LABEL: func.func @prompt_bf16
// AVX2: arith.truncf %{{.+}} : vector<16xf32> to vector<16xbf16>
// AVX2: x86vector.avx512.dot %{{.+}}, %{{.+}}, %{{.+}} : vector<16xbf16> -> vector<8xf32>
func.func @prompt_bf16(%w: tensor<8x64xbf16>, %x: tensor<?x64xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x64xf32>, tensor<8x64xbf16>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%xi: f32, %wi: bf16, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// One token: the input vector rounded once per task, before its rows.

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// CHECK-LABEL: func.func @decode_bf16
// CHECK-SAME: (%[[W:.+]]: tensor<8x64xbf16>, %[[X:.+]]: tensor<64xf32>)
// CHECK: scf.forall
// CHECK: %[[ROUND:.+]] = scf.for %[[C:[^ ]+]] =
// CHECK: %[[XF:.+]] = vector.transfer_read %[[X]][%[[C]]]{{.*}} : tensor<64xf32>, vector<32xf32>
// CHECK: %[[XB:.+]] = arith.truncf %[[XF]] : vector<32xf32> to vector<32xbf16>
// CHECK: vector.transfer_write %[[XB]], %{{.+}}[%[[C]]] {{.+}} : vector<32xbf16>, tensor<64xbf16>
// CHECK: scf.for %{{.+}} -> (vector<2xf32>, vector<2xf32>)
// CHECK: scf.for %[[K:[^ ]+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[ACC:[^ ]+]] = %{{.+}}) -> (vector<16xf32>)
// CHECK: %[[WV:.+]] = vector.transfer_read %[[W]][%{{.+}}, %[[K]]]{{.*}} : tensor<8x64xbf16>, vector<32xbf16>
// CHECK: %[[XV:.+]] = vector.transfer_read %[[ROUND]][%[[K]]]{{.*}} : tensor<64xbf16>, vector<32xbf16>
// CHECK: %[[D:.+]] = x86vector.avx512.dot %[[ACC]], %[[WV]], %[[XV]] : vector<32xbf16> -> vector<16xf32>
// CHECK-NEXT: scf.yield %[[D]]
// AVX2-LABEL: func.func @decode_bf16
// AVX2: x86vector.avx512.dot %{{.+}}, %{{.+}}, %{{.+}} : vector<16xbf16> -> vector<8xf32>
func.func @decode_bf16(%w: tensor<8x64xbf16>, %x: tensor<64xf32>) -> tensor<8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<8x64xbf16>, tensor<64xf32>) outs(%init : tensor<8xf32>) {
  ^bb0(%wi: bf16, %xi: f32, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %0, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// Not affected: f32 weights, and K not whole steps of 2 x vector-width
// (48 columns at AVX-512's 32 a step; AVX2's 16 a step takes it: one dot
// in each K loop of a step of 2 rows).

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// CHECK-LABEL: func.func @unaffected
// CHECK-NOT: x86vector.avx512.dot
// CHECK-NOT: arith.truncf
// CHECK: return
// AVX2-LABEL: func.func @unaffected
// AVX2-COUNT-2: x86vector.avx512.dot
// AVX2-NOT: x86vector.avx512.dot
// AVX2: return
func.func @unaffected(%wf: tensor<8x64xf32>, %x: tensor<64xf32>,
                      %w48: tensor<8x48xbf16>, %x48: tensor<48xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%wf, %x : tensor<8x64xf32>, tensor<64xf32>) outs(%init : tensor<8xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  %y48 = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w48, %x48 : tensor<8x48xbf16>, tensor<48xf32>) outs(%init : tensor<8xf32>) {
  ^bb0(%wi: bf16, %xi: f32, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %0, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  return %y, %y48 : tensor<8xf32>, tensor<8xf32>
}
