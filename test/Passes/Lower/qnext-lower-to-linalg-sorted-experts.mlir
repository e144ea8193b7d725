// RUN: qnext-opt %s --split-input-file --qnext-lower-to-linalg --canonicalize --cse | FileCheck %s

// Several tokens' routed experts choose at run time between two forms: while
// T * k <= 4 * E (here 2T <= 32), the (token, slot) pairs become rows sorted
// by expert: a count per expert, where each expert's rows start, then each
// pair placed (expert id sel[p], token tok[p], and pair (t, i) -> row
// pos[t, i]); the rows copied from x; gate, up and down as gathers of rows
// over (p, n, k) reading the row's expert in the body; the combine sums each
// token's slots in slot order, (t, i, n) with n innermost. Otherwise the
// form grouped by expert (a loop over the 8 experts).
// CHECK-LABEL: func.func @experts
// CHECK-SAME: (%[[X:.+]]: tensor<?x128xf32>, %[[W:.+]]: tensor<?x2xf32>, %[[IDX:.+]]: tensor<?x2xi32>, %[[GATE:.+]]: tensor<8x64x128xbf16>, %[[UP:.+]]: tensor<8x64x128xbf16>, %[[DOWN:.+]]: tensor<8x128x64xbf16>)
// CHECK-DAG: %[[C32:.+]] = arith.constant 32 : index
// CHECK-DAG: %[[T:.+]] = tensor.dim %[[X]], %c0
// CHECK: %[[P:.+]] = arith.muli %[[T]], %c2
// CHECK: %[[FEW:.+]] = arith.cmpi ule, %[[P]], %[[C32]]
// CHECK: scf.if %[[FEW]]
// Counts per expert.
// CHECK: %[[COUNTS:.+]] = scf.for %[[CT:[a-z0-9_]+]] = {{.+}} -> (tensor<8xindex>)
// CHECK: scf.for %[[CI:[a-z0-9_]+]] = {{.+}} iter_args(%[[CARR:[a-z0-9_]+]] = {{.+}}) -> (tensor<8xindex>)
// CHECK: %[[ID:.+]] = tensor.extract %[[IDX]][%[[CT]], %[[CI]]]
// CHECK: %[[E:.+]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[N:.+]] = tensor.extract %[[CARR]][%[[E]]] : tensor<8xindex>
// CHECK: %[[N1:.+]] = arith.addi %[[N]], %c1
// CHECK: tensor.insert %[[N1]] into %[[CARR]][%[[E]]] : tensor<8xindex>
// Where each expert's rows start: an exclusive prefix sum (the sum so far
// stored, then the expert's count added).
// CHECK: %[[STARTS:.+]]:2 = scf.for %[[EX:[a-z0-9_]+]] = %c0 to %c8 step %c1 iter_args(%[[SARR:[a-z0-9_]+]] = %{{.+}}, %[[ACC:[a-z0-9_]+]] = %c0) -> (tensor<8xindex>, index)
// CHECK: %[[STORED:.+]] = tensor.insert %[[ACC]] into %[[SARR]][%[[EX]]]
// CHECK: %[[CNT:.+]] = tensor.extract %[[COUNTS]][%[[EX]]]
// CHECK: %[[ACC1:.+]] = arith.addi %[[ACC]], %[[CNT]]
// CHECK: scf.yield %[[STORED]], %[[ACC1]]
// Each pair placed at the next row of its expert, which moves on by one.
// CHECK: %[[PLACED:.+]]:4 = scf.for %[[PT:[a-z0-9_]+]] = {{.+}} iter_args(%{{.+}} = %[[STARTS]]#0, {{.+}}) -> (tensor<8xindex>, tensor<?xi32>, tensor<?xindex>, tensor<?x2xindex>)
// CHECK: scf.for %[[PI:[a-z0-9_]+]] = {{.+}} iter_args(%[[NEXT:[a-z0-9_]+]] = %{{.+}}, %[[SELA:[a-z0-9_]+]] = %{{.+}}, %[[TOKA:[a-z0-9_]+]] = %{{.+}}, %[[POSA:[a-z0-9_]+]] = %{{.+}})
// CHECK: %[[PID:.+]] = tensor.extract %[[IDX]][%[[PT]], %[[PI]]]
// CHECK: %[[PE:.+]] = arith.index_cast %[[PID]] : i32 to index
// CHECK: %[[ROW:.+]] = tensor.extract %[[NEXT]][%[[PE]]] : tensor<8xindex>
// CHECK: %[[ROW1:.+]] = arith.addi %[[ROW]], %c1
// CHECK: tensor.insert %[[ROW1]] into %[[NEXT]][%[[PE]]] : tensor<8xindex>
// CHECK: tensor.insert %[[PID]] into %[[SELA]][%[[ROW]]] : tensor<?xi32>
// CHECK: tensor.insert %[[PT]] into %[[TOKA]][%[[ROW]]] : tensor<?xindex>
// CHECK: tensor.insert %[[ROW]] into %[[POSA]][%[[PT]], %[[PI]]] : tensor<?x2xindex>
// Rows: x[tok[p]].
// CHECK: %[[ROWS:.+]] = scf.for %[[RP:[a-z0-9_]+]] = %c0 to %[[P]]
// CHECK: %[[TOK:.+]] = tensor.extract %[[PLACED]]#2[%[[RP]]]
// CHECK: tensor.extract_slice %[[X]][%[[TOK]], 0] [1, 128]
// Gathers of rows: gate, up, SwiGLU, down.
// CHECK: %[[G:.+]] = linalg.generic {indexing_maps = [#[[MX:.+]], #[[MS:.+]], #[[MY:.+]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[ROWS]], %[[PLACED]]#1 : tensor<?x128xf32>, tensor<?xi32>)
// CHECK: %[[GE:.+]] = arith.index_cast %{{.+}} : i32 to index
// CHECK: %[[GN:.+]] = linalg.index 1 : index
// CHECK: %[[GK:.+]] = linalg.index 2 : index
// CHECK: tensor.extract %[[GATE]][%[[GE]], %[[GN]], %[[GK]]]
// CHECK: %[[U:.+]] = linalg.generic {{.+}} ins(%[[ROWS]], %[[PLACED]]#1
// CHECK: tensor.extract %[[UP]]
// CHECK: %[[H:.+]] = linalg.generic {{.+}} ins(%[[G]], %[[U]]
// CHECK: math.exp
// CHECK: %[[D:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[H]], %[[PLACED]]#1 : tensor<?x64xf32>, tensor<?xi32>)
// CHECK: tensor.extract %[[DOWN]]
// The combine: y[t, n] = sum_i w[t, i] * d[pos[t, i], n].
// CHECK: %[[Y:.+]] = linalg.generic {indexing_maps = [#[[MTI:.+]], #[[MTI]], #[[MTN:.+]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[W]], %[[PLACED]]#3 : tensor<?x2xf32>, tensor<?x2xindex>)
// CHECK: ^bb0(%[[WV:.+]]: f32, %[[POS:.+]]: index, %[[ACC:.+]]: f32):
// CHECK: %[[CN:.+]] = linalg.index 2 : index
// CHECK: %[[DV:.+]] = tensor.extract %[[D]][%[[POS]], %[[CN]]]
// CHECK: %[[PROD:.+]] = arith.mulf %[[WV]], %[[DV]]
// CHECK: arith.addf %[[ACC]], %[[PROD]]
// CHECK: scf.yield %[[Y]]
// CHECK: } else {
// CHECK: scf.for %{{.+}} = %c0 to %c8
func.func @experts(%x: tensor<?x128xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi32>,
                   %gate: tensor<8x64x128xbf16>, %up: tensor<8x64x128xbf16>,
                   %down: tensor<8x128x64xbf16>) -> tensor<?x128xf32> {
  %y = qnext.expert_swiglu %x, %w, %idx, %gate, %up, %down : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// One token keeps its own form: no choice.
// CHECK-LABEL: func.func @one_token
// CHECK-NOT: scf.if
// CHECK: return
func.func @one_token(%x: tensor<1x128xf32>, %w: tensor<1x2xf32>, %idx: tensor<1x2xi32>,
                     %gate: tensor<8x64x128xbf16>, %up: tensor<8x64x128xbf16>,
                     %down: tensor<8x128x64xbf16>) -> tensor<1x128xf32> {
  %y = qnext.expert_swiglu %x, %w, %idx, %gate, %up, %down : (tensor<1x128xf32>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}
