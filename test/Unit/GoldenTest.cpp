//===- GoldenTest.cpp - the compiled model vs ../shared/golden ------------===//
//
// The contract of ../shared/golden/README.md: the model built from each
// golden checkpoint, compiled by the CPU pipeline and run (JIT), matches
// ref_logits.f32 at every row (max |d logit| <= 1e-3, same argmax) for one
// prefill call, for chunked prefill (7 and 64 tokens per call), and for
// prompt-then-greedy-decode, which must reproduce generated.txt.
//
// The same contract holds for the golden weights stored in the other expert
// layout (fused <-> per expert, and both in one checkpoint, layer by layer),
// and a Qwen3.5 dense model gives the logits of its own weights rewritten as
// Qwen3-Next (Relayout.h).
//
//===----------------------------------------------------------------------===//

#include "Relayout.h"

#include "qnext/InitAll.h"
#include "qnext/MemRefDescriptor.h"
#include "qnext/Model/Dequantize.h"
#include "qnext/Model/ModelBuilder.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Model/Synth.h"
#include "qnext/Model/WeightPacker.h"
#include "qnext/Target/CPUPipeline.h"
#include "qnext/Target/Fusions.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

std::string goldenDir(const std::string &name) {
  return std::string(QNEXT_GOLDEN_DIR) + "/" + name;
}

std::vector<int64_t> readIds(const std::string &path) {
  std::ifstream in(path);
  std::vector<int64_t> ids;
  std::string item;
  while (std::getline(in, item, ','))
    ids.push_back(std::stoll(item));
  return ids;
}

/// One golden case: the compiled model, its packed weights and its states.
class Model {
public:
  static std::unique_ptr<Model>
  compile(const std::string &checkpointDir, bool gatherExperts = false,
          const std::vector<std::string> &fusions = {},
          int64_t vectorWidth = 8) {
    static bool once = [] {
      mlir::qnext::registerAllPasses();
      llvm::InitializeNativeTarget();
      llvm::InitializeNativeTargetAsmPrinter();
      return true;
    }();
    (void)once;
    auto m = std::make_unique<Model>();
    auto config = qnext::loadModelConfig(checkpointDir + "/config.json");
    EXPECT_TRUE(bool(config)) << llvm::toString(config.takeError());
    auto checkpoint = qnext::Checkpoint::open(checkpointDir);
    EXPECT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
    if (!config || !checkpoint)
      return nullptr;
    m->vocab = config->vocabSize;

    mlir::DialectRegistry registry;
    mlir::qnext::registerAllDialects(registry);
    m->context = std::make_unique<mlir::MLIRContext>(registry);
    mlir::registerBuiltinDialectTranslation(*m->context);
    mlir::registerLLVMDialectTranslation(*m->context);
    mlir::MLIRContext &ctx = *m->context;
    qnext::WeightLayout layout(*config, [&](llvm::StringRef name) -> mlir::Type {
      const qnext::TensorInfo *info = (*checkpoint)->find(name);
      if (info && info->dtype == qnext::DType::BF16)
        return mlir::BFloat16Type::get(&ctx);
      return mlir::Float32Type::get(&ctx);
    });
    if (llvm::Error e = layout.detectExpertLayouts(**checkpoint)) {
      ADD_FAILURE() << llvm::toString(std::move(e));
      return nullptr;
    }
    auto module = qnext::buildModel(ctx, *config, layout);
    auto prefill = module->lookupSymbol<mlir::func::FuncOp>("prefill");
    // ids, positions, past, logits_from, then the states.
    for (unsigned i = 4; i < prefill.getNumArguments(); ++i)
      m->stateTypes.push_back(
          mlir::cast<mlir::RankedTensorType>(prefill.getArgument(i).getType()));

    mlir::PassManager pm(&ctx);
    // Sequential loops: the JIT links no OpenMP runtime (the qnext-run lit
    // tests run the same kernels threaded).
    mlir::qnext::CPUPipelineOptions pipelineOptions;
    pipelineOptions.threads = false;
    pipelineOptions.gatherExperts = gatherExperts;
    pipelineOptions.fusions = fusions;
    pipelineOptions.vectorWidth = vectorWidth;
    if (mlir::failed(mlir::qnext::buildCPUPipeline(
            pm, mlir::qnext::CPUPhase::LLVMDialect, pipelineOptions)) ||
        mlir::failed(pm.run(*module))) {
      ADD_FAILURE() << "CPU pipeline failed";
      return nullptr;
    }
    auto plan = qnext::readWeightPlan(*module);
    EXPECT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
    if (!plan)
      return nullptr;
    m->weights.assign(plan->size + 64, 0);
    uint8_t *base = m->weightsBase();
    llvm::Error e = qnext::packWeights(
        *plan, **checkpoint, [&](uint64_t offset, llvm::ArrayRef<uint8_t> bytes) {
          std::memcpy(base + offset, bytes.data(), bytes.size());
          return llvm::Error::success();
        });
    EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
    m->weightsSize = plan->size;

    mlir::ExecutionEngineOptions options;
    options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Default;
    auto engine = mlir::ExecutionEngine::create(*module, options);
    if (!engine) {
      ADD_FAILURE() << llvm::toString(engine.takeError());
      return nullptr;
    }
    m->engine = std::move(*engine);
    return m;
  }

  uint8_t *weightsBase() {
    auto p = reinterpret_cast<uintptr_t>(weights.data());
    return reinterpret_cast<uint8_t *>((p + 63) / 64 * 64);
  }

  /// Fresh (zero) states with room for `capacity` cached tokens.
  void reset(int64_t capacity) {
    states.clear();
    stateShapes.clear();
    for (mlir::RankedTensorType t : stateTypes) {
      std::vector<int64_t> shape(t.getShape().begin(), t.getShape().end());
      for (int64_t &d : shape)
        if (mlir::ShapedType::isDynamic(d))
          d = capacity;
      int64_t n = 1;
      for (int64_t d : shape)
        n *= d;
      states.emplace_back(n, 0.0f);
      stateShapes.push_back(shape);
    }
  }

  /// Runs `entry` on tokens at positions [past, past + n); returns n rows.
  std::vector<float> run(const char *entry, std::vector<int32_t> ids,
                         int64_t past) {
    int64_t n = ids.size();
    std::vector<int32_t> positions(n);
    for (int64_t i = 0; i < n; ++i)
      positions[i] = int32_t(past + i);
    std::vector<float> logits(n * vocab, NAN);
    std::vector<qnext::MemRefDescriptor> descriptors;
    descriptors.reserve(4 + states.size());
    descriptors.emplace_back(weightsBase(), std::vector<int64_t>{int64_t(weightsSize)});
    descriptors.emplace_back(ids.data(), std::vector<int64_t>{n});
    descriptors.emplace_back(positions.data(), std::vector<int64_t>{n});
    for (size_t i = 0; i < states.size(); ++i)
      descriptors.emplace_back(states[i].data(), stateShapes[i]);
    descriptors.emplace_back(logits.data(), std::vector<int64_t>{n, vocab});
    int64_t logitsFrom = 0; // prefill: every row's logits
    std::vector<void *> args = {descriptors[0].argument(),
                                descriptors[1].argument(),
                                descriptors[2].argument(), &past};
    if (std::string(entry) == "prefill")
      args.push_back(&logitsFrom);
    for (size_t i = 3; i < descriptors.size(); ++i)
      args.push_back(descriptors[i].argument());
    llvm::Error e = engine->invokePacked(std::string("_mlir_ciface_") + entry, args);
    EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
    return logits;
  }

  int64_t vocab = 0;

private:
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  std::vector<mlir::RankedTensorType> stateTypes;
  std::vector<uint8_t> weights;
  uint64_t weightsSize = 0;
  std::vector<std::vector<float>> states;
  std::vector<std::vector<int64_t>> stateShapes;
};

class Golden : public ::testing::TestWithParam<const char *> {
protected:
  void SetUp() override {
    // "CASE" or "CASE@LAYOUT": the case's weights with their experts fused,
    // per expert, or mixed (even layers fused, odd ones per expert).
    auto [name, relayout] = llvm::StringRef(GetParam()).split('@');
    dir = goldenDir(name.str());
    checkpointDir = dir + "/checkpoint";
    if (!llvm::sys::fs::exists(dir + "/ref_logits.f32"))
      GTEST_SKIP() << dir << " not found (../shared/golden sits beside the "
                              "checkout on the project's machines and in CI)";
    prompt = readIds(dir + "/prompt.txt");
    generated = readIds(dir + "/generated.txt");
    auto buffer = llvm::MemoryBuffer::getFile(dir + "/ref_logits.f32");
    ASSERT_TRUE(bool(buffer));
    reference.resize((*buffer)->getBufferSize() / 4);
    std::memcpy(reference.data(), (*buffer)->getBufferStart(),
                reference.size() * 4);
    if (!relayout.empty()) {
      std::string &copy = relayouts()[GetParam()];
      if (copy.empty())
        copy = rewrite(relayout.str());
      ASSERT_FALSE(copy.empty());
      checkpointDir = copy;
    }
    auto &slot = models()[GetParam()];
    if (!slot)
      slot = Model::compile(checkpointDir);
    model = slot.get();
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(int64_t(reference.size()),
              int64_t(prompt.size() + generated.size()) * model->vocab);
  }

  /// A copy of the golden checkpoint, rewritten as `how` says: "fused",
  /// "per-expert", "mixed" (even layers fused, odd ones per expert),
  /// "no-rotary-factor" (fused, config without partial_rotary_factor), or
  /// "dequantized" (FP8 weights to F32, as --export-dequantized writes
  /// them). Its folder, or "" after reporting a failure.
  std::string rewrite(const std::string &how) {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createUniqueDirectory("qnext-layout", path)) {
      ADD_FAILURE() << "no temporary folder";
      return "";
    }
    std::string made(path);
    if (how == "dequantized") {
      auto summary = qnext::writeDequantizedCheckpoint(checkpointDir, made,
                                                       /*allowNonfinite=*/false);
      if (!summary) {
        ADD_FAILURE() << llvm::toString(summary.takeError());
        return "";
      }
      EXPECT_GT(summary->dequantized, 0u);
      return made;
    }
    auto layoutOf = [how](int64_t layer) {
      if (how == "per-expert")
        return qnext::ExpertLayout::PerExpert;
      if (how == "mixed" && layer % 2)
        return qnext::ExpertLayout::PerExpert;
      return qnext::ExpertLayout::Fused;
    };
    llvm::Error e = qnext::test::relayoutExperts(checkpointDir, made, layoutOf);
    if (!e && how == "no-rotary-factor") // transformers' default, 0.25
      e = qnext::test::editConfig(made, [](nlohmann::ordered_json &c) {
        c["text_config"].erase("partial_rotary_factor");
        c["text_config"]["rope_parameters"].erase("partial_rotary_factor");
      });
    if (e) {
      ADD_FAILURE() << llvm::toString(std::move(e));
      return "";
    }
    // The copy holds each MoE layer's experts as asked.
    auto config = qnext::loadModelConfig(made + "/config.json");
    auto written = qnext::Checkpoint::open(made);
    if (!config || !written) {
      ADD_FAILURE() << "the rewritten checkpoint does not open";
      llvm::consumeError(config.takeError());
      llvm::consumeError(written.takeError());
      return "";
    }
    for (int64_t i = 0; i < config->numLayers; ++i) {
      std::string p =
          config->tensorPrefix() + "layers." + std::to_string(i) + ".mlp.experts.";
      EXPECT_EQ((*written)->find(p + "gate_up_proj") != nullptr,
                layoutOf(i) == qnext::ExpertLayout::Fused) << p;
      EXPECT_EQ((*written)->find(p + "0.gate_proj.weight") != nullptr,
                layoutOf(i) == qnext::ExpertLayout::PerExpert) << p;
    }
    return made;
  }

  /// Compiled models are shared by the tests of a checkpoint and released
  /// here, before LLVM's own statics go (a JIT outliving them crashes at exit).
  static void TearDownTestSuite() {
    models().clear();
    for (auto &[param, path] : relayouts())
      llvm::sys::fs::remove_directories(path);
    relayouts().clear();
  }

  static std::map<std::string, std::unique_ptr<Model>> &models() {
    static std::map<std::string, std::unique_ptr<Model>> cache;
    return cache;
  }
  /// The re-laid-out copies, by test parameter.
  static std::map<std::string, std::string> &relayouts() {
    static std::map<std::string, std::string> paths;
    return paths;
  }

  /// Checks `rows` logit rows against reference rows [first, first + n).
  void expectRows(const std::vector<float> &rows, int64_t first,
                  const std::string &what) {
    const int64_t v = model->vocab, n = rows.size() / v;
    for (int64_t r = 0; r < n; ++r) {
      double worst = 0;
      int64_t argmax = 0, refArgmax = 0;
      for (int64_t i = 0; i < v; ++i) {
        float got = rows[r * v + i], want = reference[(first + r) * v + i];
        worst = std::max(worst, std::isnan(got) ? INFINITY
                                                : std::fabs(double(got) - want));
        if (got > rows[r * v + argmax])
          argmax = i;
        if (want > reference[(first + r) * v + refArgmax])
          refArgmax = i;
      }
      EXPECT_LE(worst, 1e-3) << what << ": row " << first + r;
      worstSeen = std::max(worstSeen, worst);
      ++rowsSeen;
      EXPECT_EQ(argmax, refArgmax) << what << ": row " << first + r;
    }
  }

public:
  static int32_t argmax(const std::vector<float> &row) {
    return int32_t(std::max_element(row.begin(), row.end()) - row.begin());
  }

protected:
  /// Prefills the prompt in chunks of `chunk` tokens, then decodes greedily.
  void prefillThenDecode(int64_t chunk, const std::string &what) {
    const int64_t p = prompt.size(), v = model->vocab;
    model->reset(p + generated.size());
    std::vector<float> last;
    for (int64_t at = 0; at < p; at += chunk) {
      std::vector<int32_t> ids(prompt.begin() + at,
                               prompt.begin() + std::min(p, at + chunk));
      last = model->run("prefill", ids, at);
      expectRows(last, at, what + " prefill");
    }
    std::vector<float> row(last.end() - v, last.end());
    for (size_t i = 0; i < generated.size(); ++i) {
      int32_t next = argmax(row);
      ASSERT_EQ(next, generated[i]) << what << ": generated token " << i;
      row = model->run("decode", {next}, p + int64_t(i));
      expectRows(row, p + i, what + " decode");
    }
  }

  void TearDown() override {
    if (rowsSeen)
      std::cout << "[ golden   ] " << GetParam() << ": " << rowsSeen
                << " rows, max |d logit| = " << worstSeen << "\n";
  }

  double worstSeen = 0;
  int64_t rowsSeen = 0;
  std::string dir, checkpointDir;
  std::vector<int64_t> prompt, generated;
  std::vector<float> reference;
  Model *model = nullptr;
};

TEST_P(Golden, OnePrefillThenGreedyDecode) {
  prefillThenDecode(prompt.size(), "one call");
}
TEST_P(Golden, PrefillInChunksOf7) { prefillThenDecode(7, "chunks of 7"); }
TEST_P(Golden, PrefillInChunksOf64) { prefillThenDecode(64, "chunks of 64"); }

// The routed experts as the CUDA pipeline lowers them (gather contractions),
// here on the CPU: the GPU target's model-level numerics, checked where
// there is no GPU.
TEST_P(Golden, GatherExpertsAsOnTheGPU) {
  auto gathered = Model::compile(checkpointDir, /*gatherExperts=*/true);
  ASSERT_NE(gathered, nullptr);
  model = gathered.get();
  prefillThenDecode(prompt.size(), "gather-experts");
  prefillThenDecode(7, "gather-experts, chunks of 7");
}

// Every fusion pass on (qnext-compile --fusion=all): the contract holds.
TEST_P(Golden, EveryFusion) {
  std::vector<std::string> all;
  for (const mlir::qnext::Fusion &f : mlir::qnext::allFusions())
    all.push_back(f.name.str());
  auto fused = Model::compile(checkpointDir, /*gatherExperts=*/false, all);
  ASSERT_NE(fused, nullptr);
  model = fused.get();
  prefillThenDecode(prompt.size(), "--fusion=all");
  prefillThenDecode(7, "--fusion=all, chunks of 7");
}

// The AVX-512 kernel family (16 lanes: 8-row decode blocks, 6x4 prompt
// blocks), which every benchmark figure comes from; the tests above run the
// AVX2 family (8 lanes). LLVM splits the vectors where this CPU has no
// 512-bit registers, so the family's loops are checked on every machine.
TEST_P(Golden, SixteenLanes) {
  auto wide = Model::compile(checkpointDir, /*gatherExperts=*/false, {}, /*vectorWidth=*/16);
  ASSERT_NE(wide, nullptr);
  model = wide.get();
  prefillThenDecode(prompt.size(), "16 lanes");
  prefillThenDecode(7, "16 lanes, chunks of 7");
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, Golden,
                         ::testing::Values("tiny-f32", "tiny-bf16-sharded",
                                           "q35-moe-bf16"));

// The expert layouts real files use, on both families: the same weights,
// the same contract (whole and chunked prefill, greedy decode). And a
// config that leaves partial_rotary_factor to its class default, and the FP8
// case's weights dequantized as --export-dequantized writes them.
class GoldenLayout : public Golden {};

TEST_P(GoldenLayout, OnePrefillThenGreedyDecode) {
  prefillThenDecode(prompt.size(), "one call");
}
TEST_P(GoldenLayout, PrefillInChunksOf7) { prefillThenDecode(7, "chunks of 7"); }
TEST_P(GoldenLayout, PrefillInChunksOf64) {
  prefillThenDecode(64, "chunks of 64");
}

INSTANTIATE_TEST_SUITE_P(ExpertLayouts, GoldenLayout,
                         ::testing::Values("tiny-f32@fused",
                                           "tiny-bf16-sharded@mixed",
                                           "q35-moe-bf16@per-expert",
                                           "q35-moe-bf16@mixed",
                                           "q35-moe-bf16@no-rotary-factor",
                                           "fp8-tiny@dequantized"),
                         [](const auto &info) {
                           std::string name = info.param;
                           for (char &c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c)))
                               c = '_';
                           return name;
                         });

// Qwen3.5 dense has no golden case of its own: a synthetic one must give the
// logits of the same weights rewritten in Qwen3-Next's layout, which the
// golden cases verify (interleaved projections, dense MLPs by
// mlp_only_layers). Whole and chunked prefill, then greedy decode.
TEST(Qwen35Dense, SameLogitsAsItsWeightsInQwen3NextLayout) {
  llvm::SmallString<128> root;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qnext-q35-dense", root));
  const std::string q35 = std::string(root) + "/qwen35",
                    next = std::string(root) + "/qwen3next";
  qnext::SynthOptions options;
  options.preset = "tiny-qwen35";
  options.seed = 35;
  llvm::Error e = qnext::writeSynthCheckpoint(q35, options);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  e = qnext::test::qwen35DenseAsQwen3Next(q35, next);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  auto a = Model::compile(q35), b = Model::compile(next);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);

  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 45; ++i)
    prompt.push_back((i * 97 + 13) % int32_t(a->vocab));
  double worst = 0;
  auto compare = [&](const std::vector<float> &x, const std::vector<float> &y,
                     const std::string &what) {
    ASSERT_EQ(x.size(), y.size()) << what;
    const int64_t v = a->vocab;
    for (size_t r = 0; r < x.size() / v; ++r) {
      auto row = [&](const std::vector<float> &z) {
        return std::vector<float>(z.begin() + r * v, z.begin() + (r + 1) * v);
      };
      for (int64_t i = 0; i < v; ++i)
        worst = std::max(worst, double(std::fabs(x[r * v + i] - y[r * v + i])));
      EXPECT_EQ(Golden::argmax(row(x)), Golden::argmax(row(y))) << what << " row " << r;
    }
  };
  for (int64_t chunk : {int64_t(prompt.size()), int64_t(7)}) {
    a->reset(64);
    b->reset(64);
    std::vector<float> whole = b->run("prefill", prompt, 0), rows;
    for (size_t at = 0; at < prompt.size(); at += chunk) {
      std::vector<int32_t> ids(prompt.begin() + at,
                               prompt.begin() + std::min(prompt.size(), at + chunk));
      std::vector<float> part = a->run("prefill", ids, at);
      rows.insert(rows.end(), part.begin(), part.end());
    }
    compare(rows, whole, "prefill in chunks of " + std::to_string(chunk));
    std::vector<float> last(whole.end() - a->vocab, whole.end());
    for (int64_t i = 0; i < 8; ++i) {
      int32_t next = Golden::argmax(last);
      std::vector<float> x = a->run("decode", {next}, prompt.size() + i);
      last = b->run("decode", {next}, prompt.size() + i);
      compare(x, last, "decode step " + std::to_string(i));
    }
  }
  std::cout << "[ layout   ] Qwen3.5 dense vs its Qwen3-Next rewrite: max |d logit| = "
            << worst << "\n";
  EXPECT_LE(worst, 1e-4); // the same weights: far inside the contract
  a.reset();
  b.reset();
  llvm::sys::fs::remove_directories(root);
}

} // namespace
