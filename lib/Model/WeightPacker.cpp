//===- WeightPacker.cpp - the packed weights buffer -----------------------===//

#include "qnext/Model/WeightPacker.h"

#include "qnext/Dialect/QNext/QNextOps.h"
#include "qnext/Model/FP8.h"
#include "qnext/Model/Quantize.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/StringSet.h"

#include <cmath>
#include <cstring>
#include <functional>

using llvm::Error;
using llvm::Expected;

namespace qnext {

namespace {
llvm::Error planError(const llvm::Twine &message) {
  return llvm::createStringError("qnext.weights: " + message.str());
}

std::optional<DType> dtypeOf(mlir::Type type) {
  if (type.isF32())
    return DType::F32;
  if (type.isBF16())
    return DType::BF16;
  if (type.isF16())
    return DType::F16;
  if (type.isSignlessInteger(8))
    return DType::I8;
  if (mlir::isa<mlir::Float8E4M3FNType>(type))
    return DType::F8_E4M3;
  return std::nullopt;
}
} // namespace

namespace {
/// One plan entry (a packed tensor, or a part of a concatenation); the
/// dialect verified it.
Expected<PackedTensor> readEntry(mlir::qnext::WeightAttr entry) {
  PackedTensor t;
  t.name = entry.getName().str();
  t.transform = mlir::qnext::stringifyWeightTransform(entry.getTransform()).str();
  std::optional<DType> dt = dtypeOf(entry.getType().getElementType());
  if (!dt)
    return planError("unsupported dtype for " + t.name);
  t.dtype = *dt;
  llvm::ArrayRef<int64_t> shape = entry.getType().getShape();
  t.shape.assign(shape.begin(), shape.end());
  if (entry.isPlaced()) {
    t.offset = entry.getOffset();
    t.bytes = entry.getBytes();
  }
  // Head dims the ba transforms do not use read as 1.
  t.geometry = {entry.getNumKeyHeads(), entry.getNumValueHeads(),
                std::max<int64_t>(entry.getKeyHeadDim(), 1),
                std::max<int64_t>(entry.getValueHeadDim(), 1)};
  t.dim = entry.getDim();
  t.blockRows = entry.getBlockRows();
  if (mlir::qnext::QuantizeAttr q = entry.getQuantize()) {
    t.quant.kind = q.getFormat() == mlir::qnext::QuantFormat::Int4 ? WeightFormat::Int4
                                                                   : WeightFormat::Int8;
    t.quant.group = q.getGroup();
    t.quantScales = q.getPart() == mlir::qnext::QuantPart::Scales;
  }
  if (mlir::ArrayAttr parts = entry.getParts())
    for (mlir::Attribute p : parts) {
      auto part = readEntry(mlir::cast<mlir::qnext::WeightAttr>(p));
      if (!part)
        return part.takeError();
      t.parts.push_back(std::move(*part));
    }
  return t;
}
} // namespace

Expected<WeightPlan> readWeightPlan(mlir::ModuleOp module) {
  auto entries =
      module->getAttrOfType<mlir::ArrayAttr>(mlir::qnext::kWeightsAttrName);
  auto size =
      module->getAttrOfType<mlir::IntegerAttr>(mlir::qnext::kWeightsSizeAttrName);
  if (!entries || !size)
    return planError("missing (run qnext-bind-params first)");
  WeightPlan plan;
  plan.size = size.getInt();
  for (mlir::Attribute a : entries) {
    auto entry = mlir::dyn_cast<mlir::qnext::WeightAttr>(a);
    if (!entry || !entry.isPlaced())
      return planError("malformed entry");
    auto t = readEntry(entry);
    if (!t)
      return t.takeError();
    plan.tensors.push_back(std::move(*t));
  }
  std::sort(plan.tensors.begin(), plan.tensors.end(),
            [](const PackedTensor &a, const PackedTensor &b) {
              return a.offset < b.offset;
            });
  return plan;
}

int64_t firstNonfinite(llvm::ArrayRef<uint8_t> bytes, DType dtype, bool &isNaN) {
  // All exponent bits set: infinity when the mantissa is zero, else NaN.
  auto scan = [&](auto word, uint64_t exponent, uint64_t mantissa) -> int64_t {
    using Word = decltype(word);
    const size_t n = bytes.size() / sizeof(Word);
    for (size_t i = 0; i < n; ++i) {
      Word v;
      std::memcpy(&v, bytes.data() + i * sizeof(Word), sizeof(Word));
      if ((v & exponent) == exponent) {
        isNaN = (v & mantissa) != 0;
        return int64_t(i);
      }
    }
    return -1;
  };
  switch (dtype) {
  case DType::F32:
    return scan(uint32_t(), 0x7F800000u, 0x007FFFFFu);
  case DType::BF16:
    return scan(uint16_t(), 0x7F80u, 0x007Fu);
  case DType::F16:
    return scan(uint16_t(), 0x7C00u, 0x03FFu);
  case DType::F8_E4M3:
    // e4m3fn has no infinities; 0x7f and 0xff are its NaNs.
    return scan(uint8_t(), 0x7Fu, 0x7Fu);
  default:
    return -1;
  }
}

Error packWeights(
    const WeightPlan &plan, const Checkpoint &checkpoint,
    llvm::function_ref<Error(uint64_t, llvm::ArrayRef<uint8_t>)> sink,
    bool allowNonfinite) {
  llvm::StringSet<> scanned; // a tensor two packed tensors read is scanned once
  // The checkpoint tensor `name`, checked to hold `shape` in `dtype`.
  std::vector<const TensorInfo *> used; // released after each packed tensor
  auto source = [&](const std::string &name, llvm::ArrayRef<int64_t> shape,
                    DType dtype) -> Expected<llvm::ArrayRef<uint8_t>> {
    const TensorInfo *info = checkpoint.find(name);
    if (info)
      used.push_back(info);
    if (!info)
      return llvm::createStringError("checkpoint: missing tensor '" + name + "'");
    if (llvm::ArrayRef<int64_t>(info->shape) != shape || info->dtype != dtype)
      return llvm::createStringError(
          checkpoint.fileName(*info).str() + ": tensor '" + name + "' is " +
          dtypeName(info->dtype).str() + " " + formatShape(info->shape) +
          ", the compiled code expects " + dtypeName(dtype).str() + " " +
          formatShape(shape));
    llvm::ArrayRef<uint8_t> bytes = checkpoint.bytes(*info);
    // An e4m3 NaN byte has no value the kernels' decoding could give it
    // (it would read as 480): refused even with --allow-nonfinite.
    const bool fp8 = dtype == DType::F8_E4M3;
    if ((!allowNonfinite || fp8) && scanned.insert(name).second) {
      bool isNaN = false;
      int64_t at = firstNonfinite(bytes, dtype, isNaN);
      if (at >= 0)
        return llvm::createStringError(
            checkpoint.fileName(*info).str() + ": tensor '" + name + "' holds " +
            (isNaN ? "NaN" : "an infinity") + " at index " + std::to_string(at) +
            (fp8 ? " (an FP8 weight must be finite)"
                 : " (--allow-nonfinite compiles it anyway)"));
    }
    return bytes;
  };

  // A block scale `name` expanded to `shape` ([..., rows, cols] f32): row
  // r is the checkpoint's row r / blockRows, widened. The kernels fold 2^8
  // into a scale (the e4m3 decoding's factor), so it must stay finite once
  // multiplied by it: below 2^120 in magnitude (a real one is ~1e-3).
  auto blockScale = [&](const std::string &name, llvm::ArrayRef<int64_t> shape,
                        int64_t blockRows,
                        std::vector<uint8_t> &out) -> Expected<llvm::ArrayRef<uint8_t>> {
    const TensorInfo *info = checkpoint.find(name);
    if (!info)
      return llvm::createStringError("checkpoint: missing tensor '" + name + "'");
    used.push_back(info);
    const int64_t rows = shape[shape.size() - 2], cols = shape.back();
    std::vector<int64_t> stored = {(rows + blockRows - 1) / blockRows, cols};
    std::string where = checkpoint.fileName(*info).str() + ": tensor '" + name + "'";
    if (info->shape != stored ||
        (info->dtype != DType::F32 && info->dtype != DType::BF16 &&
         info->dtype != DType::F16))
      return llvm::createStringError(
          where + " is " + dtypeName(info->dtype).str() + " " +
          formatShape(info->shape) + ", the compiled code expects the block "
          "scales F32, BF16 or F16 " + formatShape(stored));
    llvm::ArrayRef<uint8_t> bytes = checkpoint.bytes(*info);
    const size_t elt = dtypeSize(info->dtype);
    out.resize(size_t(rows * cols) * sizeof(float));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t col = 0; col < cols; ++col) {
        size_t at = size_t((r / blockRows) * cols + col);
        float v = readScale(bytes.data() + at * elt, info->dtype);
        if (!(std::fabs(v) < 0x1p120f))
          return llvm::createStringError(
              where + " holds " + std::to_string(v) + " at index " +
              std::to_string(at) + ": a block scale must be finite and below 2^120 "
              "in magnitude");
        std::memcpy(out.data() + (r * cols + col) * sizeof(float), &v, sizeof v);
      }
    return llvm::ArrayRef<uint8_t>(out);
  };
  // Float tensor `name` quantized by rows in groups of `format.group`
  // columns: its values ([..., rows, cols] i8, or [..., rows, cols / 2]
  // bytes of two int4) or its scales ([..., rows, ceil(cols / group)] f32),
  // as `shape` says.
  std::vector<float> floats;
  QuantizedTensor quantized;
  // (The values and the scales of one tensor, or its row transforms' parts,
  // are packed one after the other: the last tensor's quantization is kept.)
  std::string quantizedName;
  std::string quantizedFormat;
  auto quantize = [&](const std::string &name, llvm::ArrayRef<int64_t> shape,
                      const WeightFormat &format, bool scales,
                      std::vector<uint8_t> &out) -> Expected<llvm::ArrayRef<uint8_t>> {
    auto emit = [&]() {
      const uint8_t *bytes =
          scales ? reinterpret_cast<const uint8_t *>(quantized.scales.data())
                 : reinterpret_cast<const uint8_t *>(quantized.values.data());
      size_t size = scales ? quantized.scales.size() * sizeof(float)
                           : quantized.values.size();
      out.assign(bytes, bytes + size);
      return llvm::ArrayRef<uint8_t>(out);
    };
    const TensorInfo *info = checkpoint.find(name);
    if (info && name == quantizedName && format.str() == quantizedFormat) {
      used.push_back(info);
      return emit();
    }
    if (!info)
      return llvm::createStringError("checkpoint: missing tensor '" + name + "'");
    used.push_back(info);
    std::string where = checkpoint.fileName(*info).str() + ": tensor '" + name + "'";
    const int64_t cols = info->shape.empty() ? 0 : info->shape.back();
    std::vector<int64_t> expected(shape.begin(), shape.end());
    expected.back() = scales ? cols : shape.back() * (8 / format.bits());
    if (info->shape != expected ||
        (scales && (cols + format.group - 1) / format.group != shape.back()))
      return llvm::createStringError(where + " has shape " + formatShape(info->shape) +
                                     ", the compiled code quantizes one of " +
                                     formatShape(expected));
    if (llvm::Error e =
            quantizeTensor(checkpoint, *info, plan.fp8Block, format, floats, quantized))
      return std::move(e);
    quantizedName = name;
    quantizedFormat = format.str();
    return emit();
  };
  // The rows of `t`'s tensor `name` of `shape` as stored, expanded when it
  // is a block scale, or quantized.
  auto rowsOf = [&](const PackedTensor &t, const std::string &name,
                    llvm::ArrayRef<int64_t> shape,
                    std::vector<uint8_t> &scratch) -> Expected<llvm::ArrayRef<uint8_t>> {
    if (t.blockRows > 0)
      return blockScale(name, shape, t.blockRows, scratch);
    if (t.quant.quantizes())
      return quantize(name, shape, t.quant, t.quantScales, scratch);
    return source(name, shape, t.dtype);
  };

  // The bytes of one packed tensor: a view of the checkpoint when no
  // transform applies, else assembled in `buffer`.
  std::function<Expected<llvm::ArrayRef<uint8_t>>(const PackedTensor &,
                                                  std::vector<uint8_t> &)>
      produce = [&](const PackedTensor &t, std::vector<uint8_t> &buffer)
      -> Expected<llvm::ArrayRef<uint8_t>> {
    const int64_t elt = dtypeSize(t.dtype);
    if (t.transform == "none") {
      size_t at = t.name.find("{e}");
      if (at == std::string::npos)
        return rowsOf(t, t.name, t.shape, buffer);
      // A stack of per-expert tensors, expert 0 first.
      buffer.clear();
      std::vector<uint8_t> scratch;
      for (int64_t e = 0; e < t.shape[0]; ++e) {
        std::string name = t.name;
        name.replace(at, 3, std::to_string(e));
        auto bytes = rowsOf(t, name, llvm::ArrayRef<int64_t>(t.shape).drop_front(),
                            scratch);
        if (!bytes)
          return bytes.takeError();
        buffer.insert(buffer.end(), bytes->begin(), bytes->end());
      }
      return llvm::ArrayRef<uint8_t>(buffer);
    }
    if (t.transform == "concat") {
      // Along `dim`: for each index of the leading dims, each part's block.
      int64_t outer = 1;
      for (int64_t d = 0; d < t.dim; ++d)
        outer *= t.shape[d];
      std::vector<std::vector<uint8_t>> scratch(t.parts.size());
      std::vector<llvm::ArrayRef<uint8_t>> parts;
      for (size_t i = 0; i < t.parts.size(); ++i) {
        auto bytes = produce(t.parts[i], scratch[i]);
        if (!bytes)
          return bytes.takeError();
        parts.push_back(*bytes);
      }
      buffer.clear();
      for (int64_t o = 0; o < outer; ++o)
        for (llvm::ArrayRef<uint8_t> p : parts) {
          size_t block = p.size() / outer;
          buffer.insert(buffer.end(), p.begin() + o * block,
                        p.begin() + (o + 1) * block);
        }
      return llvm::ArrayRef<uint8_t>(buffer);
    }
    // Row permutations of Qwen3-Next's interleaved projections (spec 4.2).
    const DeltaNetGeometry &g = t.geometry;
    std::vector<int64_t> rows;
    int64_t first = 0, sourceRows = 0;
    if (t.transform == "qkvz.qkv" || t.transform == "qkvz.z") {
      rows = g.qkvzRowPermutation();
      sourceRows = g.qkvzRows();
      first = t.transform == "qkvz.qkv" ? 0 : g.convDim();
    } else if (t.transform == "ba.b" || t.transform == "ba.a") {
      rows = g.baRowPermutation();
      sourceRows = 2 * g.numValueHeads;
      first = t.transform == "ba.b" ? 0 : g.numValueHeads;
    } else {
      return planError("unknown transform '" + t.transform + "' for " + t.name);
    }
    const int64_t width = t.shape[1];
    std::vector<uint8_t> scratch;
    auto bytes = rowsOf(t, t.name, {sourceRows, width}, scratch);
    if (!bytes)
      return bytes.takeError();
    const int64_t rowBytes = width * elt;
    buffer.resize(t.shape[0] * rowBytes);
    for (int64_t r = 0; r < t.shape[0]; ++r)
      std::memcpy(&buffer[r * rowBytes], bytes->data() + rows[first + r] * rowBytes,
                  rowBytes);
    return llvm::ArrayRef<uint8_t>(buffer);
  };

  std::vector<uint8_t> buffer;
  for (const PackedTensor &t : plan.tensors) {
    auto bytes = produce(t, buffer);
    if (!bytes)
      return bytes.takeError();
    if (bytes->size() != t.bytes)
      return planError(t.name + ": the packer produced " +
                       std::to_string(bytes->size()) + " bytes, the plan says " +
                       std::to_string(t.bytes));
    if (Error e = sink(t.offset, *bytes))
      return e;
    for (const TensorInfo *info : used)
      checkpoint.release(*info);
    used.clear();
  }
  return Error::success();
}

} // namespace qnext
