// RUN: qnext-opt %s --split-input-file \
// RUN:   --pass-pipeline='builtin.module(func.func(qnext-gpu-decode-in-kernels))' | FileCheck %s

// int8, a projection's weight operand: dropped; the body reads the byte at
// the element's (n, k) and the scale of its group of 128, converts exactly
// and scales.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
// CHECK-DAG: #[[X:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[O:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @int8_projection
// CHECK-SAME: (%[[IN:.+]]: tensor<1x256xf32>, %[[Q:.+]]: tensor<64x256xi8>, %[[S:.+]]: tensor<64x2xf32>)
// CHECK-NOT: qnext.dequantize
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[O]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[IN]] : tensor<1x256xf32>)
// CHECK-NEXT: ^bb0(%[[A:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK: %[[N:.+]] = linalg.index 1 : index
// CHECK-NEXT: %[[K:.+]] = linalg.index 2 : index
// CHECK-NEXT: %[[BYTE:.+]] = tensor.extract %[[Q]][%[[N]], %[[K]]] : tensor<64x256xi8>
// CHECK-NEXT: %[[WIDE:.+]] = arith.extsi %[[BYTE]] : i8 to i32
// CHECK-NEXT: %[[F:.+]] = arith.sitofp %[[WIDE]] : i32 to f32
// CHECK-NEXT: %[[C128:.+]] = arith.constant 128 : index
// CHECK-NEXT: %[[G:.+]] = arith.divui %[[K]], %[[C128]] : index
// CHECK-NEXT: %[[SCALE:.+]] = tensor.extract %[[S]][%[[N]], %[[G]]] : tensor<64x2xf32>
// CHECK-NEXT: %[[W:.+]] = arith.mulf %[[F]], %[[SCALE]] : f32
// CHECK-NEXT: %[[P:.+]] = arith.mulf %[[A]], %[[W]] : f32
// CHECK-NEXT: arith.addf %[[ACC]], %[[P]] : f32
func.func @int8_projection(%x: tensor<1x256xf32>, %q: tensor<64x256xi8>, %s: tensor<64x2xf32>) -> tensor<1x64xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<64x256xi8>, tensor<64x2xf32> -> tensor<64x256xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x64xf32>) -> tensor<1x64xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x256xf32>, tensor<64x256xf32>) outs(%init : tensor<1x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// int4, read through the split reductions' expand_shape ([n, k/32, 32],
// loops (m, n, s, j) with k = 32 j + s): the column linearized back, then
// byte (k / 32) * 16 + k % 16, its low nibble when k % 32 < 16 (shifted up
// by 28), else its high one (by 24), and down by 28 with the sign.

#xs = affine_map<(m, n, s, j) -> (m, j, s)>
#ws = affine_map<(m, n, s, j) -> (n, j, s)>
#part = affine_map<(m, n, s, j) -> (m, n, s)>
// CHECK-LABEL: func.func @int4_split
// CHECK-SAME: (%[[IN:.+]]: tensor<1x8x32xf32>, %[[Q:.+]]: tensor<64x128xi8>, %[[S:.+]]: tensor<64x4xf32>)
// CHECK-NOT: tensor.expand_shape
// CHECK: linalg.generic {{.+}} ins(%[[IN]] : tensor<1x8x32xf32>)
// CHECK: %[[N:.+]] = linalg.index 1 : index
// CHECK-NEXT: %[[SUB:.+]] = linalg.index 2 : index
// CHECK-NEXT: %[[J:.+]] = linalg.index 3 : index
// CHECK-NEXT: %[[C32:.+]] = arith.constant 32 : index
// CHECK-NEXT: %[[JK:.+]] = arith.muli %[[J]], %[[C32]] : index
// CHECK-NEXT: %[[K:.+]] = arith.addi %[[JK]], %[[SUB]] : index
// CHECK: %[[TILE:.+]] = arith.divui %[[K]], %{{.+}} : index
// CHECK: %[[INTILE:.+]] = arith.remui %[[K]], %{{.+}} : index
// CHECK: %[[TILE16:.+]] = arith.muli %[[TILE]], %{{.+}} : index
// CHECK: %[[C16:.+]] = arith.constant 16 : index
// CHECK-NEXT: %[[LOWBYTE:.+]] = arith.remui %[[K]], %[[C16]] : index
// CHECK-NEXT: %[[AT:.+]] = arith.addi %[[TILE16]], %[[LOWBYTE]] : index
// CHECK-NEXT: %[[BYTE:.+]] = tensor.extract %[[Q]][%[[N]], %[[AT]]] : tensor<64x128xi8>
// CHECK-NEXT: %[[WIDE:.+]] = arith.extsi %[[BYTE]] : i8 to i32
// CHECK: %[[LOW:.+]] = arith.cmpi ult, %[[INTILE]], %{{.+}} : index
// CHECK: %[[C28:.+]] = arith.constant 28 : i32
// CHECK-NEXT: %[[C24:.+]] = arith.constant 24 : i32
// CHECK-NEXT: %[[UP:.+]] = arith.select %[[LOW]], %[[C28]], %[[C24]] : i32
// CHECK-NEXT: %[[SHL:.+]] = arith.shli %[[WIDE]], %[[UP]] : i32
// CHECK-NEXT: %[[D28:.+]] = arith.constant 28 : i32
// CHECK-NEXT: %[[NIB:.+]] = arith.shrsi %[[SHL]], %[[D28]] : i32
// CHECK-NEXT: %[[F:.+]] = arith.sitofp %[[NIB]] : i32 to f32
// CHECK: %[[G:.+]] = arith.divui %[[K]], %{{.+}} : index
// CHECK-NEXT: %[[SCALE:.+]] = tensor.extract %[[S]][%[[N]], %[[G]]] : tensor<64x4xf32>
// CHECK-NEXT: arith.mulf %[[F]], %[[SCALE]] : f32
func.func @int4_split(%x: tensor<1x8x32xf32>, %q: tensor<64x128xi8>, %s: tensor<64x4xf32>) -> tensor<1x64x32xf32> {
  %w = qnext.dequantize %q, %s {group = 64 : i64, int4} : tensor<64x128xi8>, tensor<64x4xf32> -> tensor<64x256xf32>
  %we = tensor.expand_shape %w [[0], [1, 2]] output_shape [64, 8, 32] : tensor<64x256xf32> into tensor<64x8x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x64x32xf32>) -> tensor<1x64x32xf32>
  %y = linalg.generic {indexing_maps = [#xs, #ws, #part], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %we : tensor<1x8x32xf32>, tensor<64x8x32xf32>) outs(%init : tensor<1x64x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<1x64x32xf32>
  return %y : tensor<1x64x32xf32>
}

// -----

// FP8, an expert stack read by tensor.extract in a gather's body, through a
// rank-reducing slice (expert 2 of 4, rows from 16): the coordinates are
// the slice's offsets plus its indices. e4m3fn: the byte sign-extended to
// 16 bits, shifted left by 7, masked (0xBF80), an f16 of the value times
// 2^-8, widened; the scale times 2^8.

// CHECK-LABEL: func.func @fp8_gather
// CHECK-SAME: (%[[Q:.+]]: tensor<4x64x128xf8E4M3FN>, %[[S:.+]]: tensor<4x64x1xf32>, %[[N:.+]]: index, %[[K:.+]]: index)
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[E:.+]] = arith.constant 2 : index
// CHECK-NEXT: %[[C1:.+]] = arith.constant 1 : index
// CHECK-NEXT: %[[NS:.+]] = arith.muli %[[N]], %[[C1]] : index
// CHECK-NEXT: %[[C16:.+]] = arith.constant 16 : index
// CHECK-NEXT: %[[ROW:.+]] = arith.addi %[[NS]], %[[C16]] : index
// CHECK: %[[KS:.+]] = arith.muli %[[K]], %{{.+}} : index
// CHECK: %[[COL:.+]] = arith.addi %[[KS]], %{{.+}} : index
// CHECK-NEXT: %[[BYTE:.+]] = tensor.extract %[[Q]][%[[E]], %[[ROW]], %[[COL]]] : tensor<4x64x128xf8E4M3FN>
// CHECK-NEXT: %[[I8:.+]] = arith.bitcast %[[BYTE]] : f8E4M3FN to i8
// CHECK-NEXT: %[[I16:.+]] = arith.extsi %[[I8]] : i8 to i16
// CHECK-NEXT: %[[C7:.+]] = arith.constant 7 : i16
// CHECK-NEXT: %[[SHL:.+]] = arith.shli %[[I16]], %[[C7]] : i16
// CHECK-NEXT: %[[MASK:.+]] = arith.constant -16512 : i16
// CHECK-NEXT: %[[BITS:.+]] = arith.andi %[[SHL]], %[[MASK]] : i16
// CHECK-NEXT: %[[HALF:.+]] = arith.bitcast %[[BITS]] : i16 to f16
// CHECK-NEXT: %[[F:.+]] = arith.extf %[[HALF]] : f16 to f32
// CHECK: %[[G:.+]] = arith.divui %[[COL]], %{{.+}} : index
// CHECK-NEXT: %[[SCALE:.+]] = tensor.extract %[[S]][%[[E]], %[[ROW]], %[[G]]] : tensor<4x64x1xf32>
// CHECK-NEXT: %[[C256:.+]] = arith.constant 2.560000e+02 : f32
// CHECK-NEXT: %[[S256:.+]] = arith.mulf %[[SCALE]], %[[C256]] : f32
// CHECK-NEXT: %[[W:.+]] = arith.mulf %[[F]], %[[S256]] : f32
// CHECK-NEXT: return %[[W]] : f32
func.func @fp8_gather(%q: tensor<4x64x128xf8E4M3FN>, %s: tensor<4x64x1xf32>, %n: index, %k: index) -> f32 {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<4x64x128xf8E4M3FN>, tensor<4x64x1xf32> -> tensor<4x64x128xf32>
  %expert = tensor.extract_slice %w[2, 16, 0] [1, 32, 128] [1, 1, 1] : tensor<4x64x128xf32> to tensor<32x128xf32>
  %v = tensor.extract %expert[%n, %k] : tensor<32x128xf32>
  return %v : f32
}

// -----

// Read twice by one op: both inputs dropped (the second one's operand moves
// down when the first is erased), each decoded at its own map.

#id = affine_map<(n, k) -> (n, k)>
#tr = affine_map<(n, k) -> (k, n)>
// CHECK-LABEL: func.func @read_twice
// CHECK-SAME: (%[[Q:.+]]: tensor<128x128xi8>, %[[S:.+]]: tensor<128x1xf32>, %[[INIT:.+]]: tensor<128x128xf32>)
// CHECK: linalg.generic {{.+}} outs(%[[INIT]] : tensor<128x128xf32>)
// CHECK-NEXT: ^bb0(%{{.+}}: f32):
// CHECK-NEXT: %[[R0:.+]] = linalg.index 0 : index
// CHECK-NEXT: %[[C0:.+]] = linalg.index 1 : index
// CHECK-NEXT: tensor.extract %[[Q]][%[[R0]], %[[C0]]] : tensor<128x128xi8>
// CHECK: %[[ID:.+]] = arith.mulf
// CHECK-NEXT: %[[R1:.+]] = linalg.index 0 : index
// CHECK-NEXT: %[[C1:.+]] = linalg.index 1 : index
// CHECK-NEXT: tensor.extract %[[Q]][%[[C1]], %[[R1]]] : tensor<128x128xi8>
// CHECK: %[[TR:.+]] = arith.mulf
// CHECK-NEXT: arith.subf %[[ID]], %[[TR]] : f32
func.func @read_twice(%q: tensor<128x128xi8>, %s: tensor<128x1xf32>, %init: tensor<128x128xf32>) -> tensor<128x128xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<128x128xi8>, tensor<128x1xf32> -> tensor<128x128xf32>
  %y = linalg.generic {indexing_maps = [#id, #tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%w, %w : tensor<128x128xf32>, tensor<128x128xf32>) outs(%init : tensor<128x128xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<128x128xf32>
  return %y : tensor<128x128xf32>
}
