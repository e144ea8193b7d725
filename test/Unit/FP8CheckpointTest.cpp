//===- FP8CheckpointTest.cpp - FP8 checkpoints written and dequantized ----===//
//
// qnext-synth --dtype fp8 against the same seed in bf16, the sharded writer
// against the single-file one, and --export-dequantized's refusals.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/Dequantize.h"
#include "qnext/Model/FP8.h"
#include "qnext/Model/Quantize.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Model/Synth.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qnext;

namespace {

class FP8Checkpoint : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qnext-fp8", root));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(root); }

  std::string path(const std::string &name) { return std::string(root) + "/" + name; }

  /// The tiny preset in `dtype`, sharded, in folder `name`.
  std::string synth(const std::string &name, DType dtype, unsigned shards = 1) {
    SynthOptions options;
    options.dtype = dtype;
    options.seed = 5;
    options.shards = shards;
    options.mtp = true;
    llvm::Error e = writeSynthCheckpoint(path(name), options);
    EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
    return path(name);
  }

  std::string contents(const std::string &file) {
    auto buffer = llvm::MemoryBuffer::getFile(file);
    return buffer ? (*buffer)->getBuffer().str() : "";
  }

  llvm::SmallString<128> root;
};

// The FP8 file holds the bf16 file's weights, quantized: each dequantized
// value is within half an e4m3 step of the bf16 one (plus bf16's rounding).
TEST_F(FP8Checkpoint, SameWeightsAsBF16) {
  auto fp8 = Checkpoint::open(synth("fp8", DType::F8_E4M3));
  auto bf16 = Checkpoint::open(synth("bf16", DType::BF16));
  ASSERT_TRUE(fp8 && bf16);
  size_t checked = 0;
  for (const TensorInfo *t : (*fp8)->tensors()) {
    if (t->dtype != DType::F8_E4M3)
      continue;
    const TensorInfo *scale = (*fp8)->find(fp8ScaleName(t->name));
    const TensorInfo *ref = (*bf16)->find(t->name);
    ASSERT_TRUE(scale && ref) << t->name;
    ASSERT_EQ(ref->shape, t->shape);
    const int64_t rows = t->shape[0], cols = t->shape[1];
    std::vector<float> got(rows * cols);
    dequantizeFP8((*fp8)->bytes(*t), rows, cols, (*fp8)->bytes(*scale),
                  scale->dtype, {128, 128}, got.data());
    llvm::ArrayRef<uint8_t> want = (*bf16)->bytes(*ref);
    for (int64_t i = 0; i < rows * cols; ++i) {
      float w = llvm::bit_cast<float>(uint32_t(llvm::support::endian::read16le(
                                          want.data() + 2 * i))
                                      << 16);
      const int64_t block = (i / cols) / 128 * ((cols + 127) / 128) + (i % cols) / 128;
      float s = readScale((*fp8)->bytes(*scale).data() + block * dtypeSize(scale->dtype),
                          scale->dtype);
      ASSERT_LE(std::fabs(got[i] - w), std::fabs(w) / 14 + s * 0.001f)
          << t->name << " element " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 267u); // as many FP8 tensors as ../shared/golden/fp8-tiny
}

// The packer quantizes a tensor a block of rows at a time (its f32 copy is a
// block's): the result is the same, bit for bit, whatever the block, for FP8
// (blocks of rows that cut the 128-row scale blocks), BF16, and Qwen3.5's
// fused expert stacks ([E, 2I, H], rows across experts), int8 and int4.
TEST_F(FP8Checkpoint, QuantizedByBlocksOfRows) {
  SynthOptions moe;
  moe.preset = "tiny-qwen35-moe";
  llvm::Error e = writeSynthCheckpoint(path("q35"), moe);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  for (const std::string &dir :
       {synth("fp8", DType::F8_E4M3), synth("bf16", DType::BF16), path("q35")}) {
    auto opened = Checkpoint::open(dir);
    ASSERT_TRUE(bool(opened)) << llvm::toString(opened.takeError());
    const Checkpoint &c = **opened;
    size_t compared = 0;
    for (const TensorInfo *t : c.tensors()) {
      if (t->dtype == DType::BF16 ? !isQuantizedProjection(t->name)
                                  : t->dtype != DType::F8_E4M3)
        continue;
      for (const char *spec : {"int8:32", "int4"}) {
        WeightFormat format = cantFail(parseWeightFormat(spec));
        std::vector<float> scratch;
        QuantizedTensor whole, oneRow, blocks;
        const int64_t cols = t->shape.back();
        ASSERT_FALSE(bool(quantizeTensor(c, *t, {128, 128}, format, scratch, whole,
                                         int64_t(1) << 40)));
        ASSERT_FALSE(bool(quantizeTensor(c, *t, {128, 128}, format, scratch, oneRow, 1)));
        ASSERT_FALSE(bool(quantizeTensor(c, *t, {128, 128}, format, scratch, blocks,
                                         37 * cols)));
        EXPECT_GT(whole.rows, 37) << t->name;
        EXPECT_EQ(whole.values, oneRow.values) << dir << " " << t->name << " " << spec;
        EXPECT_EQ(whole.scales, oneRow.scales) << dir << " " << t->name << " " << spec;
        EXPECT_EQ(whole.values, blocks.values) << dir << " " << t->name << " " << spec;
        EXPECT_EQ(whole.scales, blocks.scales) << dir << " " << t->name << " " << spec;
        ++compared;
      }
    }
    EXPECT_GT(compared, 10u) << dir;
  }
}

// Sharded so finely that weights and their scales fall into different
// files: the same checkpoint, as its dequantized export shows tensor by
// tensor.
TEST_F(FP8Checkpoint, ShardsHoldTheSameTensors) {
  auto one = writeDequantizedCheckpoint(synth("one", DType::F8_E4M3), path("one-f32"),
                                        /*allowNonfinite=*/false);
  auto many = writeDequantizedCheckpoint(synth("many", DType::F8_E4M3, 200),
                                         path("many-f32"), /*allowNonfinite=*/false);
  ASSERT_TRUE(bool(one)) << llvm::toString(one.takeError());
  ASSERT_TRUE(bool(many)) << llvm::toString(many.takeError());
  EXPECT_EQ(one->dequantized, 267u);
  EXPECT_EQ(many->dequantized, 267u);
  auto a = Checkpoint::open(path("one-f32"));
  auto b = Checkpoint::open(path("many-f32"));
  ASSERT_TRUE(a && b);
  ASSERT_EQ((*a)->tensors().size(), (*b)->tensors().size());
  for (const TensorInfo *t : (*a)->tensors()) {
    const TensorInfo *u = (*b)->find(t->name);
    ASSERT_NE(u, nullptr) << t->name;
    EXPECT_EQ(t->dtype, u->dtype) << t->name;
    EXPECT_EQ(t->shape, u->shape) << t->name;
    EXPECT_TRUE((*a)->bytes(*t) == (*b)->bytes(*u)) << t->name;
  }
}

// A NaN byte in an FP8 weight is refused once dequantized (unless allowed);
// a folder that holds anything is not written into; a float checkpoint has
// nothing to dequantize.
TEST_F(FP8Checkpoint, ExportRefusals) {
  std::string dir = synth("nan", DType::F8_E4M3);
  auto opened = Checkpoint::open(dir);
  ASSERT_TRUE(bool(opened));
  const TensorInfo *t = (*opened)->find("model.layers.0.linear_attn.out_proj.weight");
  ASSERT_NE(t, nullptr);
  std::string file = contents(dir + "/model.safetensors");
  uint64_t headerSize = llvm::support::endian::read64le(file.data());
  file[8 + headerSize + t->begin + 5] = char(0x7F);
  opened->reset();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(dir + "/model.safetensors", ec);
    ASSERT_FALSE(ec);
    os << file;
  }
  auto refused = writeDequantizedCheckpoint(dir, path("nan-f32"), false);
  ASSERT_FALSE(bool(refused));
  EXPECT_EQ(llvm::toString(refused.takeError()),
            "model.safetensors: tensor 'model.layers.0.linear_attn.out_proj.weight' "
            "holds NaN at index 5 once dequantized (--allow-nonfinite exports it "
            "anyway)");
  EXPECT_FALSE(llvm::sys::fs::exists(path("nan-f32/model.safetensors")));
  auto allowed = writeDequantizedCheckpoint(dir, path("nan-allowed"), true);
  EXPECT_TRUE(bool(allowed)) << llvm::toString(allowed.takeError());

  auto full = writeDequantizedCheckpoint(dir, path("nan-allowed"), false);
  ASSERT_FALSE(bool(full));
  std::string text = llvm::toString(full.takeError());
  EXPECT_TRUE(llvm::StringRef(text).starts_with(path("nan-allowed") + ": not empty (") &&
              llvm::StringRef(text).ends_with(
                  "): --export-dequantized writes a new checkpoint folder"))
      << text;

  auto plain = writeDequantizedCheckpoint(synth("bf16", DType::BF16), path("x"), false);
  ASSERT_FALSE(bool(plain));
  EXPECT_EQ(llvm::toString(plain.takeError()),
            path("bf16") + ": no FP8 weights to dequantize (its tensors are BF16)");
}

} // namespace
