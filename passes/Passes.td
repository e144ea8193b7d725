//===- Passes.td - qnext passes ----------------------------*- tablegen -*-===//
//
// Every qnext pass, one file a group: passes/<Group>/<Group>Passes.td declares
// each of its passes' argument (qnext-<group>-<what>), contract (the
// description), options and statistics. One pass per .cpp, named after it;
// its lit test is test/Passes/<Group>/<argument>.mlir. All of them generate
// one Passes.h.inc.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_TD
#define QNEXT_PASSES_TD

include "mlir/Pass/PassBase.td"

include "Decompose/DecomposePasses.td"
include "Fusion/FusionPasses.td"
include "Lower/LowerPasses.td"
include "GPU/GPUPasses.td"

#endif // QNEXT_PASSES_TD
