//===- Geometry.h - shape logic of Qwen3-Next layers ------------*- C++ -*-===//
//
// Plain C++ (no MLIR types): the derived sizes, consistency rules and row
// permutations of the DeltaNet and attention layers, and the RoPE frequency
// table. Shared by the op verifiers, the model importer and the weight packer,
// so that each rule is written once.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_SUPPORT_GEOMETRY_H
#define QNEXT_SUPPORT_GEOMETRY_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qnext {

/// What the fields are called where they come from: the op attributes
/// (default) or config.json.
struct DeltaNetFieldNames {
  const char *numKeyHeads = "num_key_heads";
  const char *numValueHeads = "num_value_heads";
  const char *keyHeadDim = "key_head_dim";
  const char *valueHeadDim = "value_head_dim";
};

/// Head counts and sizes of a Gated DeltaNet layer (spec 0.2 and 4.1).
struct DeltaNetGeometry {
  int64_t numKeyHeads = 0;   ///< Nk
  int64_t numValueHeads = 0; ///< Nv
  int64_t keyHeadDim = 0;    ///< Dk
  int64_t valueHeadDim = 0;  ///< Dv

  /// Empty when consistent; otherwise one sentence naming the fields, e.g.
  /// "num_value_heads (30) must be a multiple of num_key_heads (16)".
  std::string validate(const DeltaNetFieldNames &names = {}) const;

  /// R = Nv / Nk, the value heads that share one key head.
  int64_t valueHeadsPerKeyHead() const { return numValueHeads / numKeyHeads; }
  int64_t keyDim() const { return numKeyHeads * keyHeadDim; }
  int64_t valueDim() const { return numValueHeads * valueHeadDim; }
  /// Channels of the causal conv: q, k and v, 2*key_dim + value_dim.
  int64_t convDim() const { return 2 * keyDim() + valueDim(); }
  /// Rows of Qwen3-Next's interleaved in_proj_qkvz: 2*key_dim + 2*value_dim.
  int64_t qkvzRows() const { return convDim() + valueDim(); }
  /// Rows of one key-head group in in_proj_qkvz: 2*Dk + 2*R*Dv.
  int64_t qkvzGroupStride() const {
    return 2 * keyHeadDim + 2 * valueHeadsPerKeyHead() * valueHeadDim;
  }

  /// Source row in in_proj_qkvz of each row of the un-interleaved weight
  /// [q heads | k heads | v heads | z heads] (convDim() + valueDim() rows).
  std::vector<int64_t> qkvzRowPermutation() const;
  /// Source row in in_proj_ba of each row of [b heads | a heads] (2*Nv rows).
  std::vector<int64_t> baRowPermutation() const;
};

/// What the fields are called where they come from (see DeltaNetFieldNames).
struct AttentionFieldNames {
  const char *numHeads = "num_heads";
  const char *numKVHeads = "num_kv_heads";
  const char *headDim = "head_dim";
  const char *rotaryDim = "rotary_dim";
};

/// Head counts and sizes of a gated full-attention layer (spec 5).
struct AttentionGeometry {
  int64_t numHeads = 0;   ///< Nq
  int64_t numKVHeads = 0; ///< Nkv
  int64_t headDim = 0;    ///< D
  int64_t rotaryDim = 0;  ///< int(D * partial_rotary_factor)

  /// Empty when consistent; otherwise one sentence naming the fields.
  std::string validate(const AttentionFieldNames &names = {}) const;
};

/// Static YaRN parameters (spec 5.4).
struct YarnParams {
  double factor = 1.0;
  int64_t originalMaxPositionEmbeddings = 0;
  double betaFast = 32.0;
  double betaSlow = 1.0;

  /// Empty when consistent; otherwise one sentence naming the fields.
  std::string validate() const;
};

/// The fp32 RoPE table of spec 5.3 / 5.4: rotaryDim/2 inverse frequencies and
/// the factor that multiplies cos and sin.
struct RopeFrequencies {
  std::vector<float> invFreq;
  float attentionFactor = 1.0f;
};

/// Inverse frequencies for a rotary dim (even, > 0) and base theta, with
/// optional YaRN blending. Follows transformers' _compute_yarn_parameters
/// (truncate = true).
RopeFrequencies computeRopeFrequencies(int64_t rotaryDim, double theta,
                                       const std::optional<YarnParams> &yarn);

} // namespace qnext

#endif // QNEXT_SUPPORT_GEOMETRY_H
