//===- Profile.h - qnext-bench --profile -----------------------*- C++ -*-===//

#ifndef QNEXT_TOOLS_QNEXT_BENCH_PROFILE_H
#define QNEXT_TOOLS_QNEXT_BENCH_PROFILE_H

#include "qnext/Runtime.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

/// Times a prefill of `promptLen` tokens and `decodeTokens` decode steps
/// after it on an artifact compiled with --profile-kernels, and prints, for
/// each, the time of every kernel and of each layer's serial code. Returns
/// the tool's exit status.
int profileKernels(qnext_model *model, qnext_session *session,
                   const std::vector<int32_t> &tokens, int64_t promptLen,
                   int64_t decodeTokens, const nlohmann::ordered_json &manifest);

#endif // QNEXT_TOOLS_QNEXT_BENCH_PROFILE_H
