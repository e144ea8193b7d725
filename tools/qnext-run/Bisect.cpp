//===- Bisect.cpp - qnext-run --bisect-against: where two artifacts part --===//
//
// The same prompt through two artifacts of one checkpoint (both compiled
// with --taps), their taps (each layer's mixer and MLP outputs) compared in
// order; the first beyond the tolerance is where they part.
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "RuntimeTool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>

using qnext::tool::fail;

namespace qnext::run {

int runBisect(const RunOptions &o, qnext_model *model, int threadsUsed) {
  const std::string &bisectAgainst = o.bisectAgainst;
  const double bisectTolerance = o.bisectTolerance;
  char *error = nullptr;
  std::vector<int32_t> prompt;
  if (int rc = readTokens(o.tokens, prompt))
    return rc;
  std::unique_ptr<qnext_model, void (*)(qnext_model *)> owned(
      qnext_model_open(bisectAgainst.c_str(), &error), qnext_model_close);
  if (!owned)
    return failWith(error);
  qnext_model *other = owned.get();
  qnext_model_set_threads(other, threadsUsed);
  const std::string names[2] = {o.artifact, bisectAgainst};
  qnext_model *models[2] = {model, other};
  for (int i = 0; i < 2; ++i)
    if (!qnext_model_tap_rows(models[i]))
      return fail(names[i] + ": no taps entry point (compile it with "
                  "qnext-compile --taps)");
  const int64_t rows = qnext_model_tap_rows(model);
  const int64_t hidden = qnext_model_hidden_size(model);
  const int64_t vocab = qnext_model_vocab_size(model);
  if (qnext_model_tap_rows(other) != rows ||
      qnext_model_hidden_size(other) != hidden ||
      qnext_model_vocab_size(other) != vocab)
    return fail(bisectAgainst + ": not the same model as " + o.artifact +
                " (layers, hidden_size or vocab_size differ)");
  const int64_t n = prompt.size();
  std::vector<float> taps[2], logits[2];
  for (int i = 0; i < 2; ++i) {
    std::unique_ptr<qnext_session, void (*)(qnext_session *)> session(
        qnext_session_create(models[i], n, &error), qnext_session_destroy);
    if (!session)
      return failWith(error);
    taps[i].resize(rows * n * hidden);
    logits[i].resize(n * vocab);
    if (qnext_session_prefill_taps(session.get(), prompt.data(), n, logits[i].data(),
                                   taps[i].data(), &error))
      return failWith(error);
  }
  // Layer kinds from the manifest, to name the taps as HF names the modules.
  std::string layerTypes;
  {
    std::string manifest = qnext_model_manifest(model);
    size_t at = manifest.find("\"layer_types\": \"");
    if (at != std::string::npos) {
      at += strlen("\"layer_types\": \"");
      layerTypes = manifest.substr(at, manifest.find('"', at) - at);
    }
  }
  auto tapName = [&](int64_t r) {
    int64_t layer = r / 2;
    std::string mixer = size_t(layer) < layerTypes.size() && layerTypes[layer] == 'F'
                            ? "self_attn"
                            : "linear_attn";
    return "layers." + std::to_string(layer) + "." + (r % 2 ? "mlp" : mixer);
  };
  struct Difference {
    double abs = 0, rel = 0;
    int64_t token = 0;
  };
  auto compare = [](const float *a, const float *b, int64_t count, int64_t width) {
    Difference d;
    double scale = 0;
    for (int64_t i = 0; i < count; ++i) {
      scale = std::max(scale, std::fabs(double(b[i])));
      double delta = std::isnan(a[i]) != std::isnan(b[i])
                         ? INFINITY
                         : std::fabs(double(a[i]) - double(b[i]));
      if (delta > d.abs) {
        d.abs = delta;
        d.token = i / width;
      }
    }
    d.rel = d.abs / std::max(scale, 1e-30);
    return d;
  };
  std::cout << "| tap | max abs | max rel | at token |\n| --- | ---: | ---: | ---: |\n";
  int64_t first = -1;
  Difference firstDifference;
  for (int64_t r = 0; r <= rows; ++r) {
    Difference d = r < rows
                       ? compare(taps[0].data() + r * n * hidden,
                                 taps[1].data() + r * n * hidden, n * hidden, hidden)
                       : compare(logits[0].data(), logits[1].data(), n * vocab, vocab);
    std::string name = r < rows ? tapName(r) : "logits";
    std::cout << tool::format("| %s | %.3g | %.3g | %lld |\n", name.c_str(), d.abs,
                              d.rel, (long long)d.token);
    if (first < 0 && !(d.rel <= bisectTolerance)) {
      first = r;
      firstDifference = d;
    }
  }
  if (first < 0) {
    std::cout << "no difference: " << n << " tokens, every tap and the logits agree "
              << "within " << tool::format("%g", bisectTolerance) << " (relative)\n";
    return 0;
  }
  std::cout << "first difference: "
            << (first < rows ? tapName(first) : std::string("logits"))
            << tool::format(" (max abs %.3g, rel %.3g, token %lld; tolerance %g)\n",
                            firstDifference.abs, firstDifference.rel,
                            (long long)firstDifference.token, bisectTolerance);
  return 1;
}

} // namespace qnext::run
