//===- Weights.h - the weights a decode step reads --------------*- C++ -*-===//

#ifndef QNEXT_TOOLS_QNEXT_BENCH_WEIGHTS_H
#define QNEXT_TOOLS_QNEXT_BENCH_WEIGHTS_H

#include <nlohmann/json.hpp>

#include <cstdint>

/// What a decode step uses of the weights, from the manifest's tensors.
struct ActiveWeights {
  double bytes = 0; ///< read by a step of its rows
  double macs = 0;  ///< weights multiplied per token (attention's and the
                    ///< delta rule's products with the context not counted)
};

/// A decode step of `rows` tokens (of independent sequences) reads every
/// tensor once, except the routed-expert stacks, of which it reads the
/// experts its rows choose (one row: num_experts_per_tok of num_experts;
/// several: the expected distinct experts when each row chooses uniformly
/// at random), and the embedding, of which it reads one row per token
/// (unless lm_head shares it); the MTP head's tensors (mtp.*) are not the
/// step's. A token multiplies its experts' weights and
/// every other tensor but the embedding. Throws std::runtime_error on a
/// malformed tensor list.
ActiveWeights activeWeights(const nlohmann::ordered_json &manifest, int64_t rows);

#endif // QNEXT_TOOLS_QNEXT_BENCH_WEIGHTS_H
