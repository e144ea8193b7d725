// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 activations=int8" --canonicalize --cse | FileCheck %s
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=8 activations=int8" --canonicalize --cse | FileCheck %s --check-prefix=AVX2
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=8 activations=int8 vnni=false" --canonicalize --cse | FileCheck %s --check-prefix=SIGN

// activations=int8: a one-token kernel of int8 weights quantizes its input
// once, before the tasks of row blocks (max |x| per group of 128, q = roundeven(x * 127 / max),
// the group's start = -128 * sum(q)), then multiplies bytes: the weight's
// bytes xor 0x80 (q + 128, unsigned) by the input's, 64 at a time at
// AVX-512's width (32 at AVX2's), each group's integer sum converted once
// and multiplied by the weight's scale times the input's.

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// CHECK-LABEL: func.func @decode_int8
// CHECK-SAME: (%[[Q:.+]]: tensor<8x256xi8>, %[[S:.+]]: tensor<8x2xf32>, %[[X:.+]]: tensor<256xf32>)
// CHECK-DAG: %[[OFF:.+]] = arith.constant dense<-128> : vector<64xi8>
// CHECK-DAG: %[[M128:.+]] = arith.constant -128 : i32
// CHECK-DAG: %[[C127:.+]] = arith.constant 1.270000e+02 : f32
// The input, quantized into bytes, scales and group starts, then the tasks.
// CHECK: %[[XQ:.+]]:3 = scf.for
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: %[[MAX:.+]] = vector.reduction <maximumf>
// CHECK: %[[XS:.+]] = arith.divf %[[MAX]], %[[C127]] : f32
// CHECK: arith.divf %[[C127]], %[[MAX]] : f32
// CHECK: math.roundeven
// CHECK: %[[QI:.+]] = arith.fptosi {{.+}} : vector<16xf32> to vector<16xi32>
// CHECK: %[[Q8:.+]] = arith.trunci %[[QI]] : vector<16xi32> to vector<16xi8>
// CHECK: vector.transfer_write %[[Q8]]
// CHECK: %[[SUM:.+]] = vector.reduction <add>, {{.+}} : vector<16xi32> into i32
// CHECK: %[[START:.+]] = arith.muli %[[SUM]], %[[M128]] : i32
// CHECK: tensor.insert %[[XS]]
// CHECK: tensor.insert %[[START]]
// CHECK: scf.forall
// The weight rows: per group, from its start, 64 bytes a step.
// CHECK: scf.for
// CHECK: scf.for %[[K0:[^ ]+]] =
// CHECK: %[[G:.+]] = arith.divui %[[K0]]
// CHECK: %[[ST:.+]] = tensor.extract %[[XQ]]#2[%{{.+}}, %[[G]]] : tensor<1x2xi32>
// CHECK: %[[INIT:.+]] = vector.insert %[[ST]], %{{.+}} [0] : i32 into vector<16xi32>
// CHECK: %[[DOTS:.+]] = scf.for %[[K:[^ ]+]] = {{.+}} iter_args(%[[ACC:[^ ]+]] = %[[INIT]]) -> (vector<16xi32>)
// CHECK: %[[W:.+]] = vector.transfer_read %[[Q]][%{{.+}}, %[[K]]]{{.*}} : tensor<8x256xi8>, vector<64xi8>
// CHECK: %[[U:.+]] = arith.xori %[[W]], %[[OFF]] : vector<64xi8>
// CHECK: %[[XB:.+]] = vector.transfer_read %[[XQ]]#0[%{{.+}}, %[[K]]]{{.*}} : tensor<1x256xi8>, vector<64xi8>
// CHECK: %[[D:.+]] = qnext.byte_dot %[[ACC]], %[[U]], %[[XB]] : vector<64xi8> into vector<16xi32>
// CHECK-NEXT: scf.yield %[[D]]
// CHECK: %[[WS:.+]] = tensor.extract %[[S]][%{{.+}}, %[[G]]]
// CHECK: %[[XSG:.+]] = tensor.extract %[[XQ]]#1[%{{.+}}, %[[G]]]
// CHECK: %[[SS:.+]] = arith.mulf %[[WS]], %[[XSG]] : f32
// CHECK: %[[SPLAT:.+]] = vector.broadcast %[[SS]] : f32 to vector<16xf32>
// CHECK: %[[F:.+]] = arith.sitofp %[[DOTS]] : vector<16xi32> to vector<16xf32>
// CHECK: vector.fma %[[F]], %[[SPLAT]], %{{.+}} : vector<16xf32>
// AVX2-LABEL: func.func @decode_int8
// AVX2: qnext.byte_dot %{{.+}}, %{{.+}}, %{{.+}} : vector<32xi8> into vector<8xi32>
// Without vpdpbusd (vnni=false: vpmaddubsw, which saturates at i16) the
// unsigned bytes are |q| (at most 127) and the input's bytes take q's sign:
// narrow byte dots, no offset: no group starts computed, every group's
// sum starts from zero.
// SIGN-LABEL: func.func @decode_int8
// SIGN-SAME: (%[[Q:.+]]: tensor<8x256xi8>,
// SIGN-DAG: %[[ZI:.+]] = arith.constant dense<0> : vector<8xi32>
// SIGN-NOT: -128
// SIGN-NOT: arith.muli {{.+}} : i32
// SIGN: scf.for {{.+}} iter_args(%[[ACC:[^ ]+]] = %[[ZI]]) -> (vector<8xi32>)
// SIGN: %[[W:.+]] = vector.transfer_read %[[Q]]{{.+}} : tensor<8x256xi8>, vector<32xi8>
// SIGN: %[[XB:.+]] = vector.transfer_read {{.+}} : tensor<1x256xi8>, vector<32xi8>
// SIGN: %[[NEG:.+]] = arith.cmpi slt, %[[W]], %[[ZB:[^ ]+]] : vector<32xi8>
// SIGN: %[[U:.+]] = math.absi %[[W]] : vector<32xi8>
// SIGN: %[[MINUSX:.+]] = arith.subi %[[ZB]], %[[XB]] : vector<32xi8>
// SIGN: %[[SX:.+]] = arith.select %[[NEG]], %[[MINUSX]], %[[XB]] : vector<32xi1>, vector<32xi8>
// SIGN: %[[D:.+]] = qnext.byte_dot %[[ACC]], %[[U]], %[[SX]] narrow : vector<32xi8> into vector<8xi32>
// SIGN-NEXT: scf.yield %[[D]]
// SIGN-NOT: -128
func.func @decode_int8(%q: tensor<8x256xi8>, %s: tensor<8x2xf32>, %x: tensor<256xf32>) -> tensor<8xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<8x256xi8>, tensor<8x2xf32> -> tensor<8x256xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<8x256xf32>, tensor<256xf32>) outs(%init : tensor<8xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// int4 at AVX2's width: a step is 32 bytes, 64 columns (two tiles). The
// input's bytes go in that order: per block of 64 columns, the tiles' low
// halves (columns 0-15 and 32-47), then their high halves (16-31, 48-63):
// column k of a block goes to 32 * ((k % 32) / 16) + 16 * (k / 32) + k % 16.
// Both nibbles are made q + 8 (xor 0x88), split by a mask and a shift, and
// multiplied by the two halves; a group starts from -8 * sum(q).

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// AVX2-LABEL: func.func @decode_int4
// AVX2-SAME: (%[[Q:.+]]: tensor<4x128xi8>, %[[S:.+]]: tensor<4x2xf32>, %[[X:.+]]: tensor<1x256xf32>)
// AVX2-DAG: %[[C4:.+]] = arith.constant dense<4> : vector<32xi8>
// AVX2-DAG: %[[C15:.+]] = arith.constant dense<15> : vector<32xi8>
// AVX2-DAG: %[[X88:.+]] = arith.constant dense<-120> : vector<32xi8>
// AVX2-DAG: %[[M8:.+]] = arith.constant -8 : i32
// AVX2-DAG: %[[C16:.+]] = arith.constant 16 : index
// AVX2-DAG: %[[C32:.+]] = arith.constant 32 : index
// AVX2-DAG: %[[C64:.+]] = arith.constant 64 : index
// AVX2: %[[XQ:.+]]:3 = scf.for
// AVX2: arith.trunci %{{.+}} : vector<8xi32> to vector<8xi8>
// AVX2: %[[IN:.+]] = arith.remui %[[KX:[^,]+]], %[[C64]] : index
// AVX2: %[[BASE:.+]] = arith.subi %[[KX]], %[[IN]] : index
// AVX2: %[[TILE:.+]] = arith.divui %[[IN]], %[[C32]] : index
// AVX2: %[[IN32:.+]] = arith.remui %[[IN]], %[[C32]] : index
// AVX2: %[[HALF:.+]] = arith.divui %[[IN32]], %[[C16]] : index
// AVX2: %[[J:.+]] = arith.remui %[[IN]], %[[C16]] : index
// AVX2: %[[HOFF:.+]] = arith.muli %[[HALF]], %[[C32]] : index
// AVX2: %[[P1:.+]] = arith.addi %[[BASE]], %[[HOFF]] : index
// AVX2: %[[TOFF:.+]] = arith.muli %[[TILE]], %[[C16]] : index
// AVX2: %[[P2:.+]] = arith.addi %[[P1]], %[[TOFF]] : index
// AVX2: %[[P:.+]] = arith.addi %[[P2]], %[[J]] : index
// AVX2: vector.transfer_write %{{.+}}, %{{.+}}[%{{.+}}, %[[P]]] {{.*}} : vector<8xi8>, tensor<1x256xi8>
// AVX2: arith.muli %{{.+}}, %[[M8]] : i32
// AVX2: scf.for %[[K:[^ ]+]] = {{.+}} -> (vector<8xi32>)
// AVX2: %[[B:.+]] = arith.divui %[[K]], %{{.+}} : index
// AVX2: %[[W:.+]] = vector.transfer_read %[[Q]][%{{.+}}, %[[B]]]{{.*}} : tensor<4x128xi8>, vector<32xi8>
// AVX2: %[[V:.+]] = arith.xori %[[W]], %[[X88]] : vector<32xi8>
// AVX2: %[[LO:.+]] = arith.andi %[[V]], %[[C15]] : vector<32xi8>
// AVX2: %[[SH:.+]] = arith.shrui %[[V]], %[[C4]] : vector<32xi8>
// AVX2: %[[HI:.+]] = arith.andi %[[SH]], %[[C15]] : vector<32xi8>
// AVX2: %[[KH:.+]] = arith.addi %[[K]], %[[C32]] : index
// AVX2: %[[XLO:.+]] = vector.transfer_read %[[XQ]]#0[%{{.+}}, %[[K]]]
// AVX2: %[[D0:.+]] = qnext.byte_dot %{{.+}}, %[[LO]], %[[XLO]] narrow : vector<32xi8> into vector<8xi32>
// AVX2: %[[XHI:.+]] = vector.transfer_read %[[XQ]]#0[%{{.+}}, %[[KH]]]
// AVX2: %[[D1:.+]] = qnext.byte_dot %[[D0]], %[[HI]], %[[XHI]] narrow : vector<32xi8> into vector<8xi32>
// AVX2-NEXT: scf.yield %[[D1]]
// At AVX-512's width a step is 128 columns, a group's one step here.
// CHECK-LABEL: func.func @decode_int4
// CHECK-COUNT-2: qnext.byte_dot %{{.+}} narrow : vector<64xi8> into vector<16xi32>
func.func @decode_int4(%q: tensor<4x128xi8>, %s: tensor<4x2xf32>, %x: tensor<1x256xf32>) -> tensor<1x4xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64, int4} : tensor<4x128xi8>, tensor<4x2xf32> -> tensor<4x256xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4xf32>) -> tensor<1x4xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x256xf32>, tensor<4x256xf32>) outs(%init : tensor<1x4xf32>) {
  ^bb0(%xi: f32, %wi: f32, %acc: f32):
    %1 = arith.mulf %xi, %wi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// Several tokens (a prompt, a batched decode step): the token tile's rows
// are quantized once, before the tasks (a dynamic count of rows), then each
// block of 4 tokens x 2 rows decodes a row's bytes once a step and
// multiplies them by every token's bytes: 8 group sums, each converted and
// scaled once a group, as a one-token block's (a token's row is the same
// arithmetic in a block of any size; the 1 to 3 tokens left over take
// smaller blocks).

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// AVX2-LABEL: func.func @prompt_int4
// AVX2-SAME: (%[[Q:.+]]: tensor<4x128xi8>, %[[S:.+]]: tensor<4x2xf32>, %[[X:.+]]: tensor<?x256xf32>)
// AVX2: %[[XQ:.+]]:3 = scf.for {{.+}} -> (tensor<?x256xi8>, tensor<?x2xf32>, tensor<?x2xi32>)
// AVX2: scf.forall
// AVX2: scf.for {{.+}} -> (vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>)
// AVX2: vector.transfer_read %[[Q]]
// AVX2-NOT: vector.transfer_read %[[Q]]
// AVX2-COUNT-8: qnext.byte_dot {{.+}} narrow : vector<32xi8> into vector<8xi32>
// AVX2-NOT: qnext.byte_dot
// AVX2: vector.transfer_read %[[Q]]
// AVX2-NOT: vector.transfer_read %[[Q]]
// AVX2-COUNT-8: qnext.byte_dot {{.+}} narrow : vector<32xi8> into vector<8xi32>
// AVX2-NEXT: scf.yield
// AVX2-COUNT-8: vector.fma
// AVX2: scf.index_switch
func.func @prompt_int4(%q: tensor<4x128xi8>, %s: tensor<4x2xf32>, %x: tensor<?x256xf32>) -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x256xf32>
  %w = qnext.dequantize %q, %s {group = 128 : i64, int4} : tensor<4x128xi8>, tensor<4x2xf32> -> tensor<4x256xf32>
  %e = tensor.empty(%t) : tensor<?x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x256xf32>, tensor<4x256xf32>) outs(%init : tensor<?x4xf32>) {
  ^bb0(%xi: f32, %wi: f32, %acc: f32):
    %1 = arith.mulf %xi, %wi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// Not affected: a group that is not whole steps (int8 groups of 32 at
// AVX-512's 64 bytes), FP8 weights.

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// AVX2-LABEL: func.func @unaffected
// CHECK-LABEL: func.func @unaffected
// CHECK-NOT: qnext.byte_dot
// CHECK: return
func.func @unaffected(%q: tensor<4x128xi8>, %s: tensor<4x1xf32>,
                      %s32: tensor<4x4xf32>, %xv: tensor<128xf32>,
                      %f8: tensor<4x128xf8E4M3FN>) -> (tensor<4xf32>, tensor<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %w32 = qnext.dequantize %q, %s32 {group = 32 : i64} : tensor<4x128xi8>, tensor<4x4xf32> -> tensor<4x128xf32>
  %ev = tensor.empty() : tensor<4xf32>
  %iv = linalg.fill ins(%zero : f32) outs(%ev : tensor<4xf32>) -> tensor<4xf32>
  %y32 = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w32, %xv : tensor<4x128xf32>, tensor<128xf32>) outs(%iv : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  %wf = qnext.dequantize %f8, %s {group = 128 : i64} : tensor<4x128xf8E4M3FN>, tensor<4x1xf32> -> tensor<4x128xf32>
  %yf = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%wf, %xv : tensor<4x128xf32>, tensor<128xf32>) outs(%iv : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y32, %yf : tensor<4xf32>, tensor<4xf32>
}
