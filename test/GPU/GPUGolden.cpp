//===- GPUGolden.cpp - a golden case through the runtime, on the GPU ------===//
//
// qnext-gpu-golden MODEL.qnx GOLDEN_DIR [CHUNK]
// runs the golden contract of ../shared/golden/README.md through the C API
// only (no LLVM: it runs on a GPU machine with nothing but the driver):
// prefill prompt.txt (in calls of CHUNK tokens, default all), decode
// greedily, every row of logits within 1e-3 of ref_logits.f32 with the same
// argmax, the generated ids equal to generated.txt. Prints one summary line;
// exit status 0 when it holds, 1 when not, 2 when it could not run.
//
//===----------------------------------------------------------------------===//

#include "qnext/Runtime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static std::vector<int32_t> readIds(const std::string &path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  std::string item;
  while (std::getline(in, item, ','))
    ids.push_back(int32_t(std::stol(item)));
  return ids;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: qnext-gpu-golden MODEL.qnx GOLDEN_DIR [CHUNK]\n");
    return 2;
  }
  std::string dir = argv[2];
  std::vector<int32_t> prompt = readIds(dir + "/prompt.txt");
  std::vector<int32_t> want = readIds(dir + "/generated.txt");
  std::stringstream bytes;
  bytes << std::ifstream(dir + "/ref_logits.f32", std::ios::binary).rdbuf();
  std::string raw = bytes.str();
  std::vector<float> ref(reinterpret_cast<const float *>(raw.data()),
                         reinterpret_cast<const float *>(raw.data() + raw.size()));
  if (prompt.empty() || want.empty() || ref.empty()) {
    std::fprintf(stderr, "%s: prompt.txt, generated.txt or ref_logits.f32 missing\n",
                 dir.c_str());
    return 2;
  }
  char *error = nullptr;
  qnext_model *model = qnext_model_open(argv[1], &error);
  if (!model) {
    std::fprintf(stderr, "%s\n", error);
    return 2;
  }
  const int64_t vocab = qnext_model_vocab_size(model);
  const int64_t p = int64_t(prompt.size()), n = int64_t(want.size());
  int64_t chunk = argc > 3 ? std::atol(argv[3]) : p;
  qnext_session *session = qnext_session_create(model, p + n, &error);
  if (!session) {
    std::fprintf(stderr, "%s\n", error);
    return 2;
  }
  std::vector<float> logits((p + n - 1) * vocab);
  auto start = std::chrono::steady_clock::now();
  for (int64_t at = 0; at < p; at += chunk) {
    int64_t m = std::min(chunk, p - at);
    if (qnext_session_prefill(session, prompt.data() + at, m,
                              logits.data() + at * vocab, &error)) {
      std::fprintf(stderr, "%s\n", error);
      return 2;
    }
  }
  double prefillSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<int32_t> got;
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    const float *row = logits.data() + (p - 1 + i) * vocab;
    got.push_back(int32_t(std::max_element(row, row + vocab) - row));
    if (i + 1 < n && qnext_session_decode(session, got.back(),
                                          logits.data() + (p + i) * vocab, &error)) {
      std::fprintf(stderr, "%s\n", error);
      return 2;
    }
  }
  double decodeSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t rows = p + n - 1;
  if (int64_t(ref.size()) < rows * vocab) {
    std::fprintf(stderr, "ref_logits.f32 holds fewer than %lld rows\n", (long long)rows);
    return 2;
  }
  double worst = 0;
  int64_t mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *a = logits.data() + r * vocab, *b = ref.data() + r * vocab;
    for (int64_t i = 0; i < vocab; ++i)
      worst = std::max(worst, std::isnan(a[i]) ? INFINITY : std::fabs(double(a[i]) - b[i]));
    mismatches += (std::max_element(a, a + vocab) - a) != (std::max_element(b, b + vocab) - b);
  }
  bool same = got == want;
  std::printf("%s: %lld rows, max |d logit| %.3g, %lld argmax mismatches, generated ids "
              "%s; prefill %lld tokens (chunks of %lld) %.3f s, decode %lld tokens %.3f s\n",
              dir.c_str(), (long long)rows, worst, (long long)mismatches,
              same ? "match" : "DIFFER", (long long)p, (long long)chunk, prefillSeconds,
              (long long)(n - 1), decodeSeconds);
  qnext_session_destroy(session);
  qnext_model_close(model);
  return worst <= 1e-3 && mismatches == 0 && same ? 0 : 1;
}
