//===- Info.cpp - qnext-run --info: what an artifact holds ----------------===//
//
// The model, the target and the weights by format (from the manifest; the
// code is not loaded): for each format its tensors, weights, bytes and
// bits per weight, a quantized format's scales counted with it.
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "RuntimeTool.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <memory>

using qnext::tool::fail;

namespace qnext::run {

namespace {
struct Format {
  int64_t tensors = 0, weights = 0, bytes = 0, scaleBytes = 0;
};
} // namespace

int runInfo(const RunOptions &o) {
  char *error = nullptr;
  std::unique_ptr<qnext_model, void (*)(qnext_model *)> model(
      qnext_model_inspect(o.artifact.c_str(), &error), qnext_model_close);
  if (!model)
    return failWith(error);
  using json = nlohmann::json;
  json m = json::parse(qnext_model_manifest(model.get()), nullptr,
                       /*allow_exceptions=*/false);
  const json &tensors = m.is_object() && m.contains("weights")
                            ? m["weights"].value("tensors", json())
                            : json();
  if (!tensors.is_array())
    return fail("manifest: weights.tensors missing or not a list");
  // Formats in order of first appearance; a format's scales (entries with
  // block_rows) belong to the quantized format of the weights before them.
  std::vector<std::string> order;
  std::map<std::string, Format> formats;
  std::string lastQuantized;
  for (const json &t : tensors) {
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() ||
        !t.contains("bytes") || !t["bytes"].is_number_integer() ||
        !t.contains("shape") || !t["shape"].is_array())
      return fail("manifest: a weights.tensors entry lacks its dtype, shape or bytes");
    std::string dtype = t["dtype"];
    int64_t bytes = t["bytes"], count = 1;
    for (const json &d : t["shape"])
      count *= d.is_number_integer() ? d.get<int64_t>() : 0;
    const json &quantized = t.value("quantized", json::object());
    bool scales = t.value("block_rows", 0) > 0 ||
                  (quantized.is_object() && quantized.value("part", "") == "scales");
    if (scales && !lastQuantized.empty()) {
      formats[lastQuantized].scaleBytes += bytes;
      continue;
    }
    if (dtype != "F32" && dtype != "BF16" && dtype != "F16")
      lastQuantized = dtype;
    if (!formats.count(dtype))
      order.push_back(dtype);
    Format &f = formats[dtype];
    ++f.tensors;
    f.weights += count;
    f.bytes += bytes;
  }
  const json &mm = m.value("model", json::object());
  const json &target = m.value("target", json::object());
  std::printf("%s: %s, %lld layers (%s), hidden %lld, vocab %lld; %s code",
              o.artifact.c_str(), mm.value("model_type", std::string("?")).c_str(),
              (long long)mm.value("num_layers", 0),
              mm.value("layer_types", std::string("?")).c_str(),
              (long long)mm.value("hidden_size", 0), (long long)mm.value("vocab_size", 0),
              target.value("kind", std::string("?")).c_str());
  if (target.contains("cpu") && target["cpu"].is_string())
    std::printf(" (%s)", target["cpu"].get<std::string>().c_str());
  std::printf("\n%-10s %8s %14s %12s %12s\n", "weights", "tensors", "values", "MB",
              "bits/weight");
  Format total;
  for (const std::string &name : order) {
    const Format &f = formats[name];
    int64_t bytes = f.bytes + f.scaleBytes;
    std::printf("%-10s %8lld %14lld %12.2f %12.3f%s\n", name.c_str(),
                (long long)f.tensors, (long long)f.weights, bytes / 1e6,
                f.weights ? 8.0 * bytes / f.weights : 0.0,
                f.scaleBytes ? "  (with its scales)" : "");
    total.tensors += f.tensors;
    total.weights += f.weights;
    total.bytes += bytes;
  }
  std::printf("%-10s %8lld %14lld %12.2f %12.3f\n", "all", (long long)total.tensors,
              (long long)total.weights, total.bytes / 1e6,
              total.weights ? 8.0 * total.bytes / total.weights : 0.0);
  return 0;
}

} // namespace qnext::run
