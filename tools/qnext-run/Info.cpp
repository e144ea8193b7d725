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

#include <cstdint>
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
  const json tensors = m.is_object() && m.contains("weights") &&
                              m["weights"].is_object() && m["weights"].contains("tensors")
                          ? m["weights"]["tensors"]
                          : json();
  if (!tensors.is_array())
    return fail("manifest: weights.tensors missing or not a list");
  // Fields read with their types checked (a manifest is input).
  auto integer = [](const json &o, const char *key) -> int64_t {
    return o.is_object() && o.contains(key) && o[key].is_number_integer()
               ? o[key].get<int64_t>()
               : 0;
  };
  auto text = [](const json &o, const char *key) -> std::string {
    return o.is_object() && o.contains(key) && o[key].is_string()
               ? o[key].get<std::string>()
               : std::string("?");
  };
  // Formats in order of first appearance; a quantized weight's scales are
  // counted with its format: FP8 block scales (block_rows) with F8_E4M3,
  // the scales of a weight quantized while packing with its values (I8, or
  // I4: int4 values, two a byte).
  std::vector<std::string> order;
  std::map<std::string, Format> formats;
  for (const json &t : tensors) {
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() ||
        !t.contains("bytes") || !t["bytes"].is_number_integer() ||
        !t.contains("shape") || !t["shape"].is_array())
      return fail("manifest: a weights.tensors entry lacks its dtype, shape or bytes");
    std::string dtype = t["dtype"];
    int64_t bytes = t["bytes"], count = 1;
    for (const json &d : t["shape"]) {
      int64_t extent = d.is_number_integer() ? d.get<int64_t>() : 0;
      count = extent > 0 && count <= INT64_MAX / extent ? count * extent : 0;
    }
    // The format a tensor counts under, and whether it is scales.
    std::string name = dtype;
    bool scales = false;
    if (integer(t, "block_rows") > 0) {
      name = "F8_E4M3";
      scales = true;
    } else if (t.contains("quantized")) {
      name = text(t["quantized"], "format") == "int4" ? "I4" : "I8";
      scales = text(t["quantized"], "part") == "scales";
      if (name == "I4" && count <= INT64_MAX / 2)
        count *= 2; // two values a byte
    }
    if (!formats.count(name))
      order.push_back(name);
    if (scales) {
      formats[name].scaleBytes += bytes;
      continue;
    }
    Format &f = formats[name];
    ++f.tensors;
    f.weights += count;
    f.bytes += bytes;
  }
  const json mm = m.contains("model") ? m["model"] : json::object();
  const json target = m.contains("target") ? m["target"] : json::object();
  std::printf("%s: %s, %lld layers (%s), hidden %lld, vocab %lld; %s code",
              o.artifact.c_str(), text(mm, "model_type").c_str(),
              (long long)integer(mm, "num_layers"), text(mm, "layer_types").c_str(),
              (long long)integer(mm, "hidden_size"), (long long)integer(mm, "vocab_size"),
              text(target, "kind").c_str());
  if (target.is_object() && target.contains("cpu") && target["cpu"].is_string())
    std::printf(" (%s)", target["cpu"].get<std::string>().c_str());
  // What the projections multiply the weights by: f32 (the weight-exact
  // contract, said by saying nothing), int8 (the inputs of int8/int4
  // weights quantized on the fly: --activations=int8) or bf16 (inputs of
  // bf16 weights rounded to bf16: --activations=bf16, the lower-precision
  // contract), and the kernels of several tokens on AMX tiles (--amx).
  auto describe = [&](const json &o) {
    std::string mode = text(o, "activations");
    std::string out = mode == "int8" ? "; inputs int8 (--activations=int8)" : "";
    if (mode == "bf16")
      out = o.is_object() && o.contains("bf16_terms") && o["bf16_terms"] == 1
                ? "; inputs bf16, rounded once (--activations=bf16 --bf16-terms=1)"
                : "; inputs bf16, two terms (--activations=bf16)";
    if (o.is_object() && o.contains("amx") && o["amx"] == true)
      out += ", several tokens on AMX tiles";
    return out;
  };
  const json variants = target.is_object() && target.contains("variants") &&
                                target["variants"].is_array()
                            ? target["variants"]
                            : json();
  if (variants.is_array()) {
    // A fat artifact: each code, the one this CPU runs marked.
    const char *chosen = qnext_model_code_variant(model.get());
    std::printf(" for %zu CPUs", variants.size());
    for (const json &v : variants)
      std::printf("\n  %s (%s)%s%s", text(v, "name").c_str(), text(v, "cpu").c_str(),
                  describe(v).c_str(),
                  chosen && text(v, "name") == chosen ? "  <- runs here" : "");
  } else {
    std::printf("%s", describe(m).c_str());
  }
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
