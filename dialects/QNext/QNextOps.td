//===- QNextOps.td - qnext operations ----------------------*- tablegen -*-===//
//
// The qnext operations, one file a kind: parameters and weight layouts
// (QNextWeightOps.td), layer ops (QNextLayerOps.td: what a user reads, what
// fusion reasons about), primitive ops (QNextPrimitiveOps.td: what the layer
// ops decompose into and the lowerings consume) and fusion groups
// (QNextFusedOps.td). Shapes use the spec's names: T tokens, H hidden, Nk/Nv
// DeltaNet key/value heads, Dk/Dv their head dims, Nq/Nkv attention query/KV
// heads, D attention head dim, E experts, I expert intermediate size.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_OPS_TD
#define QNEXT_OPS_TD

include "QNextWeightOps.td"
include "QNextLayerOps.td"
include "QNextPrimitiveOps.td"
include "QNextFusedOps.td"

#endif // QNEXT_OPS_TD
