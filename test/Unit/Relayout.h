//===- Relayout.h - one checkpoint's weights in another on-disk layout ---===//
//
// Test checkpoints that hold exactly the weights of a verified one in a
// layout real files use: experts fused or per expert (layer by layer), and a
// Qwen3.5 dense model rewritten as Qwen3-Next (interleaved in_proj_qkvz /
// in_proj_ba, every layer in mlp_only_layers). A model compiled from the
// copy must give the logits of the original: the layouts are then read
// through paths the golden data already verifies.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TEST_UNIT_RELAYOUT_H
#define QNEXT_TEST_UNIT_RELAYOUT_H

#include "qnext/Model/WeightLayout.h"

#include "llvm/Support/Error.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace qnext::test {

/// Writes `to`/config.json (a copy) and `to`/model.safetensors: every tensor
/// of the checkpoint in `from`, with the routed experts of MoE layer i
/// stored as `layoutOf(i)`.
llvm::Error relayoutExperts(const std::string &from, const std::string &to,
                            std::function<ExpertLayout(int64_t)> layoutOf);

/// Rewrites `dir`/config.json through `edit`.
llvm::Error editConfig(const std::string &dir,
                       std::function<void(nlohmann::ordered_json &)> edit);

/// Writes the Qwen3.5 dense checkpoint in `from` as a Qwen3-Next checkpoint
/// in `to` (model_type qwen3_next, tensors under "model.", the DeltaNet
/// projections interleaved per key-head group, dense MLPs in every layer).
llvm::Error qwen35DenseAsQwen3Next(const std::string &from,
                                   const std::string &to);

} // namespace qnext::test

#endif // QNEXT_TEST_UNIT_RELAYOUT_H
