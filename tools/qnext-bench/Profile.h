//===- Profile.h - qnext-bench --profile -----------------------*- C++ -*-===//

#ifndef QNEXT_TOOLS_QNEXT_BENCH_PROFILE_H
#define QNEXT_TOOLS_QNEXT_BENCH_PROFILE_H

#include "qnext/Runtime.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

/// Times a prefill of `promptLen` tokens and `decodeTokens` decode steps
/// after it on an artifact compiled with --profile-kernels, and prints, for
/// each, the time of every kernel and of each layer's serial code. With
/// `verifyTokens` > 0, instead of the prefill: `decodeTokens` verify calls of
/// that many tokens after the prompt (qnext_slot_verify, every token kept;
/// the tokens of a plain greedy run). Returns the tool's exit status.
int profileKernels(qnext_model *model, qnext_session *session,
                   const std::vector<int32_t> &tokens, int64_t promptLen,
                   int64_t decodeTokens, const nlohmann::ordered_json &manifest,
                   int64_t verifyTokens = 0);

/// The table of `entry`'s kernels by kind, and its layers' serial code,
/// from the profile counted over `steps` steps of `seconds` in all. A
/// kernel that gathers from its weights (negative bytes in the code's
/// table) reads part of them: for routed experts and one token, the
/// `expertShare` of the stack a token selects; with several tokens at most
/// the stack ("<="); the embedding's rows are not counted. `title` heads
/// the table instead of the entry's name.
void printProfile(qnext_model *model, const std::string &entry, double seconds,
                  int64_t steps, double expertShare, bool oneToken,
                  const std::string &title = "");

/// The share of a routed-expert stack one token reads (top-k of the
/// experts; 1 without experts).
double expertShare(const nlohmann::ordered_json &manifest);

/// What the tables' figures mean, printed after them.
extern const char *const kProfileNote;

#endif // QNEXT_TOOLS_QNEXT_BENCH_PROFILE_H
