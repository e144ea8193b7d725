//===- Relayout.cpp - one checkpoint's weights in another on-disk layout -===//

#include "Relayout.h"

#include "qnext/Model/Config.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Support/AtomicFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

using llvm::Error;
using ordered_json = nlohmann::ordered_json;

namespace qnext::test {

namespace {

struct OutTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

Error fail(const std::string &message) {
  return llvm::createStringError("relayout: " + message);
}

std::string pathIn(const std::string &dir, const char *file) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, file);
  return std::string(p);
}

Error writeFile(const std::string &path, const std::string &contents) {
  return writeAtomically(path, [&](llvm::raw_ostream &os) {
    os << contents;
    return Error::success();
  });
}

/// One model.safetensors holding `tensors` in order.
Error writeSafeTensors(const std::string &dir,
                       const std::vector<OutTensor> &tensors) {
  std::vector<TensorEntry> entries;
  for (const OutTensor &t : tensors)
    entries.push_back({t.name, t.dtype, t.shape, t.bytes.size()});
  return writeAtomically(pathIn(dir, "model.safetensors"), [&](llvm::raw_ostream &os) {
    os << safetensorsPreamble(entries);
    for (const OutTensor &t : tensors)
      os.write(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
    return Error::success();
  });
}

Error prepare(const std::string &to) {
  if (std::error_code ec = llvm::sys::fs::create_directories(to))
    return fail(to + ": " + ec.message());
  return Error::success();
}

OutTensor copyOf(const Checkpoint &c, const TensorInfo &t, std::string name) {
  llvm::ArrayRef<uint8_t> b = c.bytes(t);
  return {std::move(name), t.dtype, t.shape, {b.begin(), b.end()}};
}

} // namespace

Error relayoutExperts(const std::string &from, const std::string &to,
                      std::function<ExpertLayout(int64_t)> layoutOf) {
  auto config = loadModelConfig(pathIn(from, "config.json"));
  if (!config)
    return config.takeError();
  auto checkpoint = Checkpoint::open(from);
  if (!checkpoint)
    return checkpoint.takeError();
  const Checkpoint &c = **checkpoint;
  WeightLayout layout(*config, nullptr);
  if (Error e = layout.detectExpertLayouts(c))
    return e;
  if (Error e = prepare(to))
    return e;

  const int64_t numExperts = config->numExperts;
  std::vector<OutTensor> out;
  std::vector<bool> written(config->numLayers, false);
  for (const TensorInfo *t : c.tensors()) {
    llvm::StringRef rest = t->name;
    int64_t layer = -1;
    std::string prefix = config->tensorPrefix() + "layers.";
    if (!rest.consume_front(prefix) || rest.consumeInteger(10, layer) ||
        layer < 0 || layer >= config->numLayers ||
        !rest.starts_with(".mlp.experts.")) {
      out.push_back(copyOf(c, *t, t->name));
      continue;
    }
    if (written[layer])
      continue;
    written[layer] = true;
    // Every expert's gate, up and down matrix, from either layout.
    std::string p = prefix + std::to_string(layer) + ".mlp.experts.";
    std::vector<std::vector<uint8_t>> gate(numExperts), up(numExperts),
        down(numExperts);
    DType dtype = DType::F32;
    int64_t hidden = config->hiddenSize, inner = config->moeIntermediateSize;
    if (layout.expertLayout(layer) == ExpertLayout::Fused) {
      const TensorInfo *gu = c.find(p + "gate_up_proj");
      const TensorInfo *d = c.find(p + "down_proj");
      if (!gu || !d ||
          gu->shape != std::vector<int64_t>{numExperts, 2 * inner, hidden} ||
          d->shape != std::vector<int64_t>{numExperts, hidden, inner} ||
          gu->dtype != d->dtype)
        return fail("layer " + std::to_string(layer) +
                    " lacks fused experts of the config's shapes");
      dtype = gu->dtype;
      llvm::ArrayRef<uint8_t> g = c.bytes(*gu), db = c.bytes(*d);
      const size_t m = size_t(inner) * hidden * dtypeSize(dtype);
      for (int64_t e = 0; e < numExperts; ++e) {
        gate[e].assign(g.begin() + 2 * e * m, g.begin() + (2 * e + 1) * m);
        up[e].assign(g.begin() + (2 * e + 1) * m, g.begin() + (2 * e + 2) * m);
        down[e].assign(db.begin() + e * m, db.begin() + (e + 1) * m);
      }
    } else {
      for (int64_t e = 0; e < numExperts; ++e) {
        std::string ex = p + std::to_string(e) + ".";
        const TensorInfo *g = c.find(ex + "gate_proj.weight");
        const TensorInfo *u = c.find(ex + "up_proj.weight");
        const TensorInfo *d = c.find(ex + "down_proj.weight");
        if (!g || !u || !d || g->shape != std::vector<int64_t>{inner, hidden} ||
            u->shape != g->shape ||
            d->shape != std::vector<int64_t>{hidden, inner} ||
            u->dtype != g->dtype || d->dtype != g->dtype)
          return fail("layer " + std::to_string(layer) + " lacks expert " +
                      std::to_string(e) + " of the config's shapes");
        dtype = g->dtype;
        gate[e].assign(c.bytes(*g).begin(), c.bytes(*g).end());
        up[e].assign(c.bytes(*u).begin(), c.bytes(*u).end());
        down[e].assign(c.bytes(*d).begin(), c.bytes(*d).end());
      }
    }
    if (layoutOf(layer) == ExpertLayout::Fused) {
      OutTensor gu{p + "gate_up_proj", dtype, {numExperts, 2 * inner, hidden}, {}};
      OutTensor d{p + "down_proj", dtype, {numExperts, hidden, inner}, {}};
      for (int64_t e = 0; e < numExperts; ++e) {
        gu.bytes.insert(gu.bytes.end(), gate[e].begin(), gate[e].end());
        gu.bytes.insert(gu.bytes.end(), up[e].begin(), up[e].end());
        d.bytes.insert(d.bytes.end(), down[e].begin(), down[e].end());
      }
      out.push_back(std::move(gu));
      out.push_back(std::move(d));
    } else {
      for (int64_t e = 0; e < numExperts; ++e) {
        std::string ex = p + std::to_string(e) + ".";
        out.push_back({ex + "gate_proj.weight", dtype, {inner, hidden}, gate[e]});
        out.push_back({ex + "up_proj.weight", dtype, {inner, hidden}, up[e]});
        out.push_back({ex + "down_proj.weight", dtype, {hidden, inner}, down[e]});
      }
    }
  }
  auto text = llvm::MemoryBuffer::getFile(pathIn(from, "config.json"));
  if (!text)
    return fail("config.json: " + text.getError().message());
  if (Error e = writeFile(pathIn(to, "config.json"), (*text)->getBuffer().str()))
    return e;
  return writeSafeTensors(to, out);
}

Error editConfig(const std::string &dir,
                 std::function<void(ordered_json &)> edit) {
  auto text = llvm::MemoryBuffer::getFile(pathIn(dir, "config.json"));
  if (!text)
    return fail("config.json: " + text.getError().message());
  ordered_json config = ordered_json::parse((*text)->getBuffer().str());
  edit(config);
  return writeFile(pathIn(dir, "config.json"), config.dump(2));
}

Error qwen35DenseAsQwen3Next(const std::string &from, const std::string &to) {
  auto config = loadModelConfig(pathIn(from, "config.json"));
  if (!config)
    return config.takeError();
  if (config->family != ModelFamily::Qwen35)
    return fail(from + " is not a Qwen3.5 dense checkpoint");
  auto checkpoint = Checkpoint::open(from);
  if (!checkpoint)
    return checkpoint.takeError();
  const Checkpoint &c = **checkpoint;
  if (Error e = prepare(to))
    return e;

  // The text config at the top, as Qwen3-Next with every layer dense.
  auto text = llvm::MemoryBuffer::getFile(pathIn(from, "config.json"));
  if (!text)
    return fail("config.json: " + text.getError().message());
  ordered_json wrapper = ordered_json::parse((*text)->getBuffer().str());
  ordered_json next = wrapper["text_config"];
  next["model_type"] = "qwen3_next";
  next["architectures"] = {"Qwen3NextForCausalLM"};
  next["num_experts"] = 1;
  next["num_experts_per_tok"] = 1;
  next["moe_intermediate_size"] = 1;
  next["shared_expert_intermediate_size"] = 1;
  next["mlp_only_layers"] = ordered_json::array();
  for (int64_t i = 0; i < config->numLayers; ++i)
    next["mlp_only_layers"].push_back(i);
  next["tie_word_embeddings"] = config->tieWordEmbeddings;
  if (Error e = writeFile(pathIn(to, "config.json"), next.dump(2)))
    return e;

  // Rows of the un-interleaved projections, placed where Qwen3-Next's
  // interleaved ones keep them (the inverse of the compiler's split).
  const DeltaNetGeometry &g = config->deltaNet;
  auto interleave = [&](const TensorInfo &first, const TensorInfo &second,
                        const std::vector<int64_t> &rows, std::string name) {
    llvm::ArrayRef<uint8_t> a = c.bytes(first), b = c.bytes(second);
    const size_t rowBytes = size_t(first.shape[1]) * dtypeSize(first.dtype);
    OutTensor t{std::move(name), first.dtype,
                {int64_t(rows.size()), first.shape[1]}, {}};
    t.bytes.resize(rows.size() * rowBytes);
    const size_t firstRows = a.size() / rowBytes;
    for (size_t i = 0; i < rows.size(); ++i) {
      const uint8_t *src = i < firstRows ? a.data() + i * rowBytes
                                         : b.data() + (i - firstRows) * rowBytes;
      std::memcpy(t.bytes.data() + rows[i] * rowBytes, src, rowBytes);
    }
    return t;
  };

  std::vector<OutTensor> out;
  const std::string from35 = config->tensorPrefix();
  for (const TensorInfo *t : c.tensors()) {
    llvm::StringRef name = t->name;
    if (name.starts_with("model.visual.") || name.starts_with("mtp."))
      continue;
    std::string renamed = name.str();
    if (name.starts_with(from35))
      renamed = "model." + name.drop_front(from35.size()).str();
    llvm::StringRef r = renamed;
    if (r.consume_back("linear_attn.in_proj_qkv.weight")) {
      const TensorInfo *z = c.find(name.drop_back(strlen("qkv.weight")).str() +
                                   "z.weight");
      if (!z)
        return fail("no in_proj_z beside " + t->name);
      out.push_back(interleave(*t, *z, g.qkvzRowPermutation(),
                               r.str() + "linear_attn.in_proj_qkvz.weight"));
    } else if (r.consume_back("linear_attn.in_proj_b.weight")) {
      const TensorInfo *a = c.find(name.drop_back(strlen("b.weight")).str() +
                                   "a.weight");
      if (!a)
        return fail("no in_proj_a beside " + t->name);
      out.push_back(interleave(*t, *a, g.baRowPermutation(),
                               r.str() + "linear_attn.in_proj_ba.weight"));
    } else if (!r.ends_with("linear_attn.in_proj_z.weight") &&
               !r.ends_with("linear_attn.in_proj_a.weight")) {
      out.push_back(copyOf(c, *t, renamed));
    }
  }
  return writeSafeTensors(to, out);
}

} // namespace qnext::test
