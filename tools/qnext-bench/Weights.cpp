//===- Weights.cpp - the weights a decode step reads ----------------------===//

#include "Weights.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

using json = nlohmann::ordered_json;

ActiveWeights activeWeights(const json &m, int64_t rows) {
  const json &model = m["model"];
  const double k = model.value("num_experts_per_tok", 0);
  ActiveWeights total;
  if (!m["weights"].contains("tensors") || !m["weights"]["tensors"].is_array())
    throw std::runtime_error("manifest: weights.tensors missing or not a list");
  for (const json &t : m["weights"]["tensors"]) {
    if (!t.is_object() || !t.contains("bytes") || !t.contains("shape") ||
        !t.contains("name") || !t["shape"].is_array() || t["shape"].empty())
      throw std::runtime_error("manifest: a weights.tensors entry lacks its name, bytes "
                               "or shape");
    double bytes = t["bytes"].get<double>(), elements = 1;
    for (const json &d : t["shape"])
      elements *= d.get<double>();
    const std::string name = t["name"];
    if (name.rfind("mtp.", 0) == 0) // the MTP head's: its own calls read them
      continue;
    const double first = t["shape"][0].get<double>();
    if (name.find("{e}") != std::string::npos) {
      // One minus the chance that no row chooses a given expert.
      bytes *= 1 - std::pow(1 - k / first, double(rows));
      elements *= k / first;
    } else if (name == "model.embed_tokens.weight" &&
               !model.value("tie_word_embeddings", false)) {
      bytes *= std::min(double(rows), first) / first;
      elements = 0;
    }
    total.bytes += bytes;
    total.macs += elements;
  }
  return total;
}
