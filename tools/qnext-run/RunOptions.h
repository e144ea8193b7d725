//===- RunOptions.h - qnext-run's options and its three modes -*- C++ -*-===//
//
// qnext-run.cpp reads the command line into RunOptions and picks a mode:
// ids in and ids out (TokensMode.cpp), text and chat (TextMode.cpp), or the
// comparison of two artifacts layer by layer (Bisect.cpp); --info describes
// the artifact (Info.cpp); --quality-against measures a quantized artifact
// against its reference (Quality.cpp). Each mode runs
// the model through the runtime's one generation loop (qnext/Generate.h)
// or, for the bisection, its taps entry point.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TOOLS_QNEXT_RUN_RUNOPTIONS_H
#define QNEXT_TOOLS_QNEXT_RUN_RUNOPTIONS_H

#include "qnext/FileChecks.h"
#include "qnext/Runtime.h"
#include "qnext/Sampler.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qnext::run {

struct RunOptions {
  std::string artifact;
  std::string tokens; ///< ids, or @FILE
  int64_t maxNew = 16;
  bool maxNewGiven = false;
  int64_t prefillChunk = 0, maxContext = 0, threads = 0;
  std::string logitsOut, referenceLogits;
  /// The MTP head's rows (TokensMode): written, compared.
  std::string mtpLogitsOut, mtpReferenceLogits;
  /// Speculative decoding with the MTP head: drafts a step (0: off).
  int64_t speculate = 0;
  /// --speculate-drafts: the drafts from these ids (a plain run's), not the head.
  std::string speculateDrafts;
  OutputKind logitsKind = OutputKind::Replace; ///< how --logits-out is written
  double tolerance = 1e-3;
  bool verify = false, memory = false, info = false;
  std::string bisectAgainst, qualityAgainst;
  /// --quality-decode: the rows by one-token decode steps, not one prefill.
  bool qualityDecode = false;
  double bisectTolerance = 1e-3;

  // Text and chat.
  std::string prompt; ///< text, or @FILE
  bool chat = false, think = false, noThink = false, printIds = false;
  std::string system;
  int64_t thinkingBudget = -1;

  // Sampling: each flag given overrides the defaults it is applied to.
  SamplingParams sampling;
  bool temperatureGiven = false, topKGiven = false, topPGiven = false,
       minPGiven = false, repetitionGiven = false, presenceGiven = false;

  /// `defaults` (the artifact's generation config, or greedy), then every
  /// sampling flag given.
  SamplingParams samplingOver(SamplingParams defaults) const;
};

/// The modes; each returns the tool's exit status.
int runTokens(const RunOptions &options, qnext_model *model, int threadsUsed);
int runText(const RunOptions &options, qnext_model *model, int threadsUsed);
int runBisect(const RunOptions &options, qnext_model *model, int threadsUsed);
/// --info: the model, the target and the weights by format; no code loaded.
int runInfo(const RunOptions &options);
/// --quality-against: top-1 agreement and KL divergence against a reference.
int runQuality(const RunOptions &options, qnext_model *model, int threadsUsed);

/// What the modes share.
/// fail() with a runtime error string, which it releases.
int failWith(char *error);
/// The prompt ids of --tokens (a list, or @FILE); 0, or fail()'s status.
int readTokens(const std::string &tokens, std::vector<int32_t> &ids);
/// "threads: N", "prefill: ...", "decode: ..." on stderr.
void printStats(int threadsUsed, int64_t prompt, double prefillSeconds, int64_t decoded,
                double decodeSeconds);

} // namespace qnext::run

#endif // QNEXT_TOOLS_QNEXT_RUN_RUNOPTIONS_H
