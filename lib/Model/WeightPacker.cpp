//===- WeightPacker.cpp - the packed weights buffer -----------------------===//

#include "qnext/Model/WeightPacker.h"

#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/StringSet.h"

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
    if (!allowNonfinite && scanned.insert(name).second) {
      bool isNaN = false;
      int64_t at = firstNonfinite(bytes, dtype, isNaN);
      if (at >= 0)
        return llvm::createStringError(
            checkpoint.fileName(*info).str() + ": tensor '" + name + "' holds " +
            (isNaN ? "NaN" : "an infinity") + " at index " + std::to_string(at) +
            " (--allow-nonfinite compiles it anyway)");
    }
    return bytes;
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
        return source(t.name, t.shape, t.dtype);
      // A stack of per-expert tensors, expert 0 first.
      buffer.clear();
      for (int64_t e = 0; e < t.shape[0]; ++e) {
        std::string name = t.name;
        name.replace(at, 3, std::to_string(e));
        auto bytes = source(name, llvm::ArrayRef<int64_t>(t.shape).drop_front(),
                            t.dtype);
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
    auto bytes = source(t.name, {sourceRows, width}, t.dtype);
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
