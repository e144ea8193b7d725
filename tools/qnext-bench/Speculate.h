//===- Speculate.h - qnext-bench --speculate ---------------------*- C++ -*-===//

#ifndef QNEXT_TOOLS_QNEXT_BENCH_SPECULATE_H
#define QNEXT_TOOLS_QNEXT_BENCH_SPECULATE_H

#include "qnext/Runtime.h"

#include <cstdint>
#include <string>
#include <vector>

/// qnext-bench --speculate: the pieces of speculative decoding on an
/// artifact with the MTP head, after a `promptLen`-token prompt, on
/// `threads` threads: a decode step; for each draft count k of `drafts`, the
/// head's k drafts, a verify call of k + 1 tokens (all kept) and its ratio
/// to the decode step, and the rollback of a rejection (restore and run the
/// accepted tokens again); the speed-up those give at 50, 70 and 90 %
/// acceptance; and, end to end, `steps` tokens generated plainly against
/// speculatively with every draft accepted (the drafts of the plain run,
/// the head run each step all the same). Medians of `repeat` runs; a table
/// on stdout, with `jsonOut` the figures as JSON. Returns the exit status.
int speculateMain(qnext_model *model, const std::string &artifact, int64_t threads,
                  const std::vector<int64_t> &drafts, int64_t promptLen, int64_t steps,
                  int64_t repeat, const std::string &jsonOut);

#endif // QNEXT_TOOLS_QNEXT_BENCH_SPECULATE_H
