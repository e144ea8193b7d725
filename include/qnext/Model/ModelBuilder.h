//===- ModelBuilder.h - config -> qnext module -------------------*- C++ -*-===//
//
// Builds the whole model's IR from the config alone (weights are qnext.param
// ops; no weight data is read).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_MODELBUILDER_H
#define QNEXT_MODEL_MODELBUILDER_H

#include "qnext/Model/WeightLayout.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace qnext {

/// The entry points a module has besides prefill and decode.
struct ModelEntries {
  /// `@taps`: prefill that also returns, as its last result
  /// `tensor<2L x T x H x f32>` named "taps", the hidden state after each
  /// layer's token mixer (row 2i) and after its MLP or MoE (row 2i + 1):
  /// what qnext-run --bisect-against compares between two builds.
  bool taps = false;
  /// `@decode_batch`: one decode step of B independent sequences.
  bool decodeBatch = false;
  /// `@prefill_batch`: runs of tokens of N sequences (prompt chunks, decode
  /// steps) in one call.
  bool prefillBatch = false;
};

/// Builds a module with the entry points
///
///   func.func @prefill(%ids: tensor<?xi32>, %positions: tensor<?xi32>,
///                      %past: index, %logits_from: index, <state>...)
///       -> (tensor<?xVxf32>, <state>...)
///   func.func @decode (%ids: tensor<1xi32>, %positions: tensor<1xi32>,
///                      %past: index, <state>...) -> (tensor<1xVxf32>, <state>...)
///
/// `past` is the number of tokens already in the caches; prefill's logits
/// are those of rows [logits_from, T). `<state>` is, per layer in order, the
/// DeltaNet conv state [K-1, conv_dim] and recurrent state [Nv, Dk, Dv]
/// (fp32), or the attention K and V caches [Nkv, capacity, D] (capacity
/// chosen by the runtime). Activations are fp32; each state argument and
/// result carries a `qnext.state` name ("layers.3.k_cache").
///
/// `@decode_batch` takes B rows, each one token of its own sequence slot,
/// and every slot's states ([S, ...] of the shapes above):
///
///   func.func @decode_batch(%ids: tensor<?xi32>, %positions: tensor<?xi32>,
///                           %slots: tensor<?xi32>, <[S, ...] state>...)
///       -> (tensor<?xVxf32>, <[S, ...] state>...)
///
/// Row b is the token after the `positions[b]` tokens slot `slots[b]` holds;
/// the slots of a step are distinct.
///
/// `@prefill_batch` takes N sequences' runs of tokens, one after the other
/// (sequence i is rows [ends[i-1], ends[i]) of slot slots[i]; distinct
/// slots), and returns the logits of each run's last row:
///
///   func.func @prefill_batch(%ids: tensor<?xi32>, %positions: tensor<?xi32>,
///                            %slots: tensor<?xi32>, %ends: tensor<?xi32>,
///                            <[S, ...] state>...)
///       -> (tensor<?xVxf32>, <[S, ...] state>...)
mlir::OwningOpRef<mlir::ModuleOp> buildModel(mlir::MLIRContext &context,
                                             const ModelConfig &config,
                                             const WeightLayout &layout,
                                             ModelEntries entries = {});

} // namespace qnext

#endif // QNEXT_MODEL_MODELBUILDER_H
