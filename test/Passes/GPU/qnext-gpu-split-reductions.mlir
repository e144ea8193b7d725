// RUN: qnext-opt %s --split-input-file \
// RUN:   --pass-pipeline='builtin.module(func.func(qnext-gpu-split-reductions{threads=128 min-chunk=32}))' | FileCheck %s

// A decode projection, the reduction over the weights' innermost dimension:
// 32 interleaved partial sums (k = 32 j + s), the partial's dimension
// innermost so that neighbouring threads (s) read neighbouring weights; the
// partial op's loops interchanged to put the reduction (j) last; then the
// partials' sum into the original init.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
// CHECK-DAG: #[[XS:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[WS:.+]] = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
// CHECK-DAG: #[[PART:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @decode_projection
// CHECK-SAME: (%[[X:.+]]: tensor<1x256xf32>, %[[W:.+]]: tensor<64x256xbf16>)
// CHECK: %[[INIT:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<1x64xf32>)
// CHECK: %[[XE:.+]] = tensor.expand_shape %[[X]] {{\[\[}}0], [1, 2]] output_shape [1, 8, 32]
// CHECK: %[[WE:.+]] = tensor.expand_shape %[[W]] {{\[\[}}0], [1, 2]] output_shape [64, 8, 32]
// CHECK: %[[ZEROS:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<1x64x32xf32>)
// CHECK: %[[P:.+]] = linalg.generic {indexing_maps = [#[[XS]], #[[WS]], #[[PART]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[XE]], %[[WE]] : tensor<1x8x32xf32>, tensor<64x8x32xbf16>) outs(%[[ZEROS]] : tensor<1x64x32xf32>)
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[P]] : tensor<1x64x32xf32>) outs(%[[INIT]] : tensor<1x64xf32>)
// CHECK: arith.addf
// CHECK: return %[[SUM]]
func.func @decode_projection(%x: tensor<1x256xf32>, %w: tensor<64x256xbf16>) -> tensor<1x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x64xf32>) -> tensor<1x64xf32>
  %r = linalg.generic {indexing_maps = [#x, #w, #o],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x256xf32>, tensor<64x256xbf16>) outs(%init : tensor<1x64xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bw = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bw : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  return %r : tensor<1x64xf32>
}

// -----

// Attention's weighted sum over 256 positions: the values' innermost
// dimension is d, not the reduction. 32 outputs: 4 contiguous chunks of 64
// positions bring the parallel iterations to 128, the chunk dimension
// outermost.

// CHECK-LABEL: func.func @weighted_sum
// CHECK-SAME: (%[[P:.+]]: tensor<2x256xf32>, %[[V:.+]]: tensor<256x2x16xf32>, %[[INIT:.+]]: tensor<2x16xf32>)
// CHECK: tensor.expand_shape %[[P]] {{\[\[}}0], [1, 2]] output_shape [2, 4, 64]
// CHECK: tensor.expand_shape %[[V]] {{\[\[}}0, 1], [2], [3]] output_shape [4, 64, 2, 16]
// CHECK: %[[PART:.+]] = linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%{{.+}} : tensor<4x2x16xf32>)
// CHECK: linalg.generic {{.+}} iterator_types = ["reduction", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[PART]] : tensor<4x2x16xf32>) outs(%[[INIT]] : tensor<2x16xf32>)
func.func @weighted_sum(%p: tensor<2x256xf32>, %v: tensor<256x2x16xf32>, %init: tensor<2x16xf32>) -> tensor<2x16xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(h, d, t) -> (h, t)>,
                                        affine_map<(h, d, t) -> (t, h, d)>,
                                        affine_map<(h, d, t) -> (h, d)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%p, %v : tensor<2x256xf32>, tensor<256x2x16xf32>) outs(%init : tensor<2x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x16xf32>
  return %r : tensor<2x16xf32>
}

// -----

// Left alone: a prompt (dynamic tokens); a weighted sum with enough
// parallel work; one whose chunks would fall below min-chunk; a map that is
// not a projected permutation (a key head shared by two value heads); index
// semantics.

// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: tensor.expand_shape
// CHECK: return
#x2 = affine_map<(m, n, k) -> (m, k)>
#w2 = affine_map<(m, n, k) -> (n, k)>
#o2 = affine_map<(m, n, k) -> (m, n)>
func.func @left_alone(%xp: tensor<?x256xf32>, %w: tensor<64x256xf32>, %ip: tensor<?x64xf32>,
                      %xw: tensor<1x256xf32>, %pw: tensor<2x256xf32>, %vw: tensor<256x2x64xf32>, %iw: tensor<2x64xf32>,
                      %xs: tensor<1x32xf32>, %ws: tensor<64x32xf32>, %is: tensor<1x64xf32>,
                      %kh: tensor<2x256xf32>, %ih: tensor<4xf32>,
                      %iv: tensor<1x64xf32>)
    -> (tensor<?x64xf32>, tensor<2x64xf32>, tensor<1x64xf32>, tensor<4xf32>, tensor<1x64xf32>) {
  %prompt = linalg.generic {indexing_maps = [#x2, #w2, #o2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xp, %w : tensor<?x256xf32>, tensor<64x256xf32>) outs(%ip : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  %wide = linalg.generic {indexing_maps = [affine_map<(h, d, t) -> (h, t)>,
                                           affine_map<(h, d, t) -> (t, h, d)>,
                                           affine_map<(h, d, t) -> (h, d)>],
                          iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%pw, %vw : tensor<2x256xf32>, tensor<256x2x64xf32>) outs(%iw : tensor<2x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x64xf32>
  %short = linalg.generic {indexing_maps = [#x2, #w2, #o2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xs, %ws : tensor<1x32xf32>, tensor<64x32xf32>) outs(%is : tensor<1x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  %heads = linalg.generic {indexing_maps = [affine_map<(h, k) -> (h floordiv 2, k)>, affine_map<(h, k) -> (h)>],
                           iterator_types = ["parallel", "reduction"]}
      ins(%kh : tensor<2x256xf32>) outs(%ih : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  %indexed = linalg.generic {indexing_maps = [#x2, #o2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xw : tensor<1x256xf32>) outs(%iv : tensor<1x64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %k = linalg.index 2 : index
    %ki = arith.index_cast %k : index to i32
    %kf = arith.sitofp %ki : i32 to f32
    %p = arith.mulf %a, %kf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  return %prompt, %wide, %short, %heads, %indexed
      : tensor<?x64xf32>, tensor<2x64xf32>, tensor<1x64xf32>, tensor<4xf32>, tensor<1x64xf32>
}

// -----

// The delta rule's decode product S^T k, [h, k, v] with the key head shared
// by two value heads (h floordiv 2: not split): interchanged so that both
// parallel dimensions come first, [h, v, k], which the GPU mapping then
// takes whole (before: only h, 4 threads here). Dynamic ranges too.
// CHECK-DAG: #[[S:.+]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[K:.+]] = affine_map<(d0, d1, d2) -> (d0 floordiv 2, d2)>
// CHECK-DAG: #[[O:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @state_times_key
// CHECK: linalg.generic {indexing_maps = [#[[S]], #[[K]], #[[O]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: linalg.generic {indexing_maps = [#[[S]], #[[K]], #[[O]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: tensor<?x?x128xf32>
func.func @state_times_key(%s: tensor<4x128x128xf32>, %k: tensor<2x128xf32>, %o: tensor<4x128xf32>,
                           %sd: tensor<?x?x128xf32>, %kd: tensor<?x?xf32>, %od: tensor<?x128xf32>)
    -> (tensor<4x128xf32>, tensor<?x128xf32>) {
  %r = linalg.generic {indexing_maps = [affine_map<(h, k, v) -> (h, k, v)>,
                                        affine_map<(h, k, v) -> (h floordiv 2, k)>,
                                        affine_map<(h, k, v) -> (h, v)>],
                       iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%s, %k : tensor<4x128x128xf32>, tensor<2x128xf32>) outs(%o : tensor<4x128xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  } -> tensor<4x128xf32>
  %d = linalg.generic {indexing_maps = [affine_map<(h, k, v) -> (h, k, v)>,
                                        affine_map<(h, k, v) -> (h floordiv 2, k)>,
                                        affine_map<(h, k, v) -> (h, v)>],
                       iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%sd, %kd : tensor<?x?x128xf32>, tensor<?x?xf32>) outs(%od : tensor<?x128xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  } -> tensor<?x128xf32>
  return %r, %d : tensor<4x128xf32>, tensor<?x128xf32>
}
