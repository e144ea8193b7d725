//===- Batch.h - qnext-bench --batch -----------------------------*- C++ -*-===//

#ifndef QNEXT_TOOLS_QNEXT_BENCH_BATCH_H
#define QNEXT_TOOLS_QNEXT_BENCH_BATCH_H

#include "qnext/Runtime.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

/// What one batch size measured.
struct BatchFigures {
  int64_t batch = 0;
  double aggregateTokS = 0; ///< tokens of all rows per second (median)
  double spread = 0;        ///< of the aggregate, (max - min) / median
  double prefillTokS = 0;   ///< the prompts' tokens per second (median)
};

/// Batched decode steps of `batch` sequences on `session` (a session of at
/// least that many slots, all free): each sequence is prefilled with its own
/// `promptLen` tokens of `tokens`, then `steps` decode steps run all of them
/// at once, each row's next token its greedy choice (timed: the steps and
/// the choosing). `repeat` timed runs after one untimed. False with `error`
/// set when a call fails.
bool benchBatch(qnext_session *session, int64_t batch, const std::vector<int32_t> &tokens,
                int64_t promptLen, int64_t steps, int64_t repeat, BatchFigures &figures,
                std::string &error);

/// qnext-bench --batch: for each thread count of `threads`, the batched
/// decode figures of each size of `batches` (a table on stdout; with
/// `jsonOut`, the figures as JSON, one object per thread count and size
/// with `batch` and `aggregate_tok_s`); with `profile` (code compiled with
/// --profile-kernels), the kernel profile of each size's steps on the first
/// thread count instead. Returns the tool's exit status.
int batchMain(qnext_model *model, const std::string &artifact,
              const nlohmann::ordered_json &manifest,
              const std::vector<int64_t> &threads, const std::vector<int64_t> &batches,
              int64_t promptLen, int64_t steps, int64_t repeat, const std::string &jsonOut,
              bool profile);

#endif // QNEXT_TOOLS_QNEXT_BENCH_BATCH_H
