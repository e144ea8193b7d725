//===- Quality.cpp - qnext-run --quality-against: a format's accuracy -----===//
//
// The prompt set (--tokens: one prompt, or @FILE with one prompt a line)
// through this artifact (a quantized one) and a reference (the same model
// unquantized), every row's logits compared: how often the top-1 tokens
// agree, the KL divergence of this artifact's distribution from the
// reference's (llama.cpp's --kl-divergence measures the same), the largest
// logit difference. With --quality-decode both compute the rows by decode
// steps, the prompt's tokens forced: the accuracy of decoding's kernels.
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "RuntimeTool.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <vector>

using qnext::tool::fail;

namespace qnext::run {

namespace {
/// log softmax of one row, in double.
void logSoftmax(const float *logits, int64_t n, std::vector<double> &out) {
  double top = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    top = std::max(top, double(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += std::exp(double(logits[i]) - top);
  const double log = top + std::log(sum);
  out.resize(n);
  for (int64_t i = 0; i < n; ++i)
    out[i] = double(logits[i]) - log;
}

int64_t argmax(const float *row, int64_t n) {
  return std::max_element(row, row + n) - row;
}
} // namespace

int runQuality(const RunOptions &o, qnext_model *model, int threadsUsed) {
  // The prompts: each line of @FILE, or the one --tokens list.
  std::vector<std::vector<int32_t>> prompts;
  std::string text = o.tokens, error;
  if (!text.empty() && text[0] == '@') {
    if (!tool::readFile(text.substr(1), text, error))
      return fail(error);
    size_t at = 0;
    while (at < text.size()) {
      size_t end = std::min(text.find('\n', at), text.size());
      std::string line = text.substr(at, end - at);
      at = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      std::vector<int32_t> ids;
      if (int rc = readTokens(line, ids))
        return rc;
      prompts.push_back(std::move(ids));
    }
    if (prompts.empty())
      return fail("--tokens " + o.tokens + ": no prompts");
  } else {
    prompts.emplace_back();
    if (int rc = readTokens(o.tokens, prompts.back()))
      return rc;
  }
  char *err = nullptr;
  std::unique_ptr<qnext_model, void (*)(qnext_model *)> owned(
      qnext_model_open(o.qualityAgainst.c_str(), &err), qnext_model_close);
  if (!owned)
    return failWith(err);
  qnext_model *reference = owned.get();
  qnext_model_set_threads(reference, threadsUsed);
  const int64_t vocab = qnext_model_vocab_size(model);
  if (qnext_model_vocab_size(reference) != vocab)
    return fail(o.qualityAgainst + ": vocab_size " +
                std::to_string(qnext_model_vocab_size(reference)) + ", " + o.artifact +
                " has " + std::to_string(vocab) + ": not the same model");

  int64_t rows = 0, agree = 0;
  double klSum = 0, klMax = 0, deltaMax = 0;
  std::vector<double> kls;
  std::vector<double> logP, logQ;
  for (const std::vector<int32_t> &prompt : prompts) {
    const int64_t n = prompt.size();
    std::vector<float> logits[2];
    qnext_model *models[2] = {reference, model};
    for (int i = 0; i < 2; ++i) {
      std::unique_ptr<qnext_session, void (*)(qnext_session *)> session(
          qnext_session_create(models[i], n, &err), qnext_session_destroy);
      if (!session)
        return failWith(err);
      logits[i].resize(n * vocab);
      if (!o.qualityDecode) {
        if (qnext_session_prefill(session.get(), prompt.data(), n, logits[i].data(),
                                  &err))
          return failWith(err);
        continue;
      }
      // One decode step a token, the prompt's own tokens forced.
      for (int64_t t = 0; t < n; ++t)
        if (qnext_session_decode(session.get(), prompt[t], logits[i].data() + t * vocab,
                                 &err))
          return failWith(err);
    }
    for (int64_t r = 0; r < n; ++r) {
      const float *p = logits[0].data() + r * vocab, *q = logits[1].data() + r * vocab;
      logSoftmax(p, vocab, logP);
      logSoftmax(q, vocab, logQ);
      double kl = 0;
      for (int64_t i = 0; i < vocab; ++i) {
        kl += std::exp(logP[i]) * (logP[i] - logQ[i]);
        deltaMax = std::max(deltaMax, std::fabs(double(p[i]) - double(q[i])));
      }
      kl = std::max(kl, 0.0); // rounding can leave -1e-17
      if (!std::isfinite(kl))
        return fail(tool::format("row %lld of a prompt: the KL divergence is not "
                                 "finite (a logit is NaN or infinite)",
                                 (long long)r));
      klSum += kl;
      klMax = std::max(klMax, kl);
      kls.push_back(kl);
      agree += argmax(p, vocab) == argmax(q, vocab);
      ++rows;
    }
  }
  std::sort(kls.begin(), kls.end());
  const double p99 = kls[std::min<size_t>(kls.size() - 1, size_t(0.99 * kls.size()))];
  std::cout << tool::format(
      "quality of %s against %s: %zu prompts, %lld rows: top-1 agreement %.2f %% "
      "(%lld/%lld), KL divergence mean %.4g, 99th percentile %.4g, max %.4g; "
      "max |d logit| %.4g\n",
      o.artifact.c_str(), o.qualityAgainst.c_str(), prompts.size(), (long long)rows,
      100.0 * double(agree) / double(rows), (long long)agree, (long long)rows,
      klSum / double(rows), p99, klMax, deltaMax);
  return 0;
}

} // namespace qnext::run
