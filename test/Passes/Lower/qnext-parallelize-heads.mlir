// RUN: qnext-opt %s --qnext-parallelize-heads --split-input-file | FileCheck %s
// RUN: qnext-opt %s --qnext-parallelize-heads="min-extent=8" --split-input-file | FileCheck %s --check-prefix=MIN8
// RUN: qnext-opt %s --qnext-parallelize-heads="token-tile=16" --split-input-file | FileCheck %s --check-prefix=TOKENS
// RUN: not qnext-opt %s --qnext-parallelize-heads="token-tile=-1" --split-input-file 2>&1 | FileCheck %s --check-prefix=BADTILE
// BADTILE: qnext-parallelize-heads: token-tile must not be negative

// Four independent heads (loop 0 parallel, static): one scf.forall over the
// heads, each iteration the same generic on its head's slices.
// CHECK-LABEL: func.func @heads
// CHECK: scf.forall (%[[H:.+]]) in (4) shared_outs(%[[OUT:.+]] = %{{.+}}) -> (tensor<4x16x8xf32>)
// CHECK: tensor.extract_slice %{{.+}}[%[[H]], 0, 0] [1, 16, 32] [1, 1, 1]
// CHECK: tensor.extract_slice %[[OUT]][%[[H]], 0, 0] [1, 16, 8] [1, 1, 1]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%{{.+}}, %{{.+}} : tensor<1x16x32xf32>, tensor<1x32x8xf32>) outs(%{{.+}} : tensor<1x16x8xf32>)
// CHECK: tensor.parallel_insert_slice
// MIN8-LABEL: func.func @heads
// MIN8-NOT: scf.forall
// MIN8: return
#in = affine_map<(h, r, j, d) -> (h, r, d)>
#st = affine_map<(h, r, j, d) -> (h, d, j)>
#out = affine_map<(h, r, j, d) -> (h, r, j)>
func.func @heads(%q: tensor<4x16x32xf32>, %s: tensor<4x32x8xf32>, %o: tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  %r = linalg.generic {indexing_maps = [#in, #st, #out],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %s : tensor<4x16x32xf32>, tensor<4x32x8xf32>) outs(%o : tensor<4x16x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %x = arith.addf %c, %m : f32
    linalg.yield %x : f32
  } -> tensor<4x16x8xf32>
  return %r : tensor<4x16x8xf32>
}

// -----

// Left alone: token rows first (dynamic), a reduction first, one loop, and a
// generic already inside a parallel kernel.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: scf.forall (%{{.+}}) in (
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: scf.forall (%{{.+}}) in (2)
// CHECK-NOT: scf.forall (
// CHECK: return
#id2 = affine_map<(t, c) -> (t, c)>
#red_in = affine_map<(k, n) -> (k, n)>
#red_out = affine_map<(k, n) -> (n)>
#id1 = affine_map<(i) -> (i)>
func.func @left_alone(%x: tensor<?x64xf32>, %y: tensor<8x4xf32>, %z: tensor<8xf32>,
                      %acc: tensor<4xf32>) -> (tensor<?x64xf32>, tensor<4xf32>, tensor<8xf32>, tensor<8x4xf32>) {
  %a = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x64xf32>) outs(%x : tensor<?x64xf32>) {
  ^bb0(%i: f32, %o: f32):
    %e = math.exp %i : f32
    linalg.yield %e : f32
  } -> tensor<?x64xf32>
  %b = linalg.generic {indexing_maps = [#red_in, #red_out], iterator_types = ["reduction", "parallel"]}
      ins(%y : tensor<8x4xf32>) outs(%acc : tensor<4xf32>) {
  ^bb0(%i: f32, %o: f32):
    %s = arith.addf %i, %o : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  %c = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%z : tensor<8xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %n = arith.negf %i : f32
    linalg.yield %n : f32
  } -> tensor<8xf32>
  %d = scf.forall (%i) in (2) shared_outs(%sh = %y) -> (tensor<8x4xf32>) {
    %g = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
        ins(%y : tensor<8x4xf32>) outs(%y : tensor<8x4xf32>) {
    ^bb0(%i2: f32, %o: f32):
      %n = arith.negf %i2 : f32
      linalg.yield %n : f32
    } -> tensor<8x4xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %g into %sh[0, 0] [8, 4] [1, 1] : tensor<8x4xf32> into tensor<8x4xf32>
    }
  }
  return %a, %b, %c, %d : tensor<?x64xf32>, tensor<4xf32>, tensor<8xf32>, tensor<8x4xf32>
}

// -----

// token-tile=16: a prompt's row-wise generic at the top of the function
// (loop 0 a dynamic number of tokens) runs as an scf.forall over tiles of
// 16 tokens, the last one shorter; the same generic inside a loop stays
// sequential (each trip would start a parallel loop). Without token-tile
// both stay (the default; see @left_alone).
// TOKENS-LABEL: func.func @token_rows
// TOKENS: %[[T:.+]] = tensor.dim %arg0, %{{.+}} : tensor<?x64xf32>
// TOKENS: scf.forall (%[[I:.+]]) = (0) to (%[[T]]) step (16) shared_outs(%{{.+}}) -> (tensor<?x64xf32>)
// TOKENS: %[[N:.+]] = affine.min #{{.+}}(%[[I]])[%[[T]]]
// TOKENS: tensor.extract_slice %arg0[%[[I]], 0] [%[[N]], 64] [1, 1]
// TOKENS: math.exp
// TOKENS: tensor.parallel_insert_slice
// TOKENS: scf.for
// TOKENS-NOT: scf.forall
// TOKENS: math.exp
// TOKENS: return
// CHECK-LABEL: func.func @token_rows
// CHECK-NOT: scf.forall
// CHECK: return
#tok = affine_map<(t, c) -> (t, c)>
func.func @token_rows(%x: tensor<?x64xf32>, %n: index) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %a = linalg.generic {indexing_maps = [#tok, #tok], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x64xf32>) outs(%x : tensor<?x64xf32>) {
  ^bb0(%i: f32, %o: f32):
    %e = math.exp %i : f32
    linalg.yield %e : f32
  } -> tensor<?x64xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = scf.for %k = %c0 to %n step %c1 iter_args(%acc = %x) -> (tensor<?x64xf32>) {
    %e = linalg.generic {indexing_maps = [#tok, #tok], iterator_types = ["parallel", "parallel"]}
        ins(%acc : tensor<?x64xf32>) outs(%acc : tensor<?x64xf32>) {
    ^bb0(%i: f32, %o: f32):
      %v = math.exp %i : f32
      linalg.yield %v : f32
    } -> tensor<?x64xf32>
    scf.yield %e : tensor<?x64xf32>
  }
  return %a, %b : tensor<?x64xf32>, tensor<?x64xf32>
}
