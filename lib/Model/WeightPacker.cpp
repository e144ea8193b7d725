//===- WeightPacker.cpp - the packed weights buffer -----------------------===//

#include "qnext/Model/WeightPacker.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cstring>

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

Expected<WeightPlan> readWeightPlan(mlir::ModuleOp module) {
  auto entries = module->getAttrOfType<mlir::ArrayAttr>("qnext.weights");
  auto size = module->getAttrOfType<mlir::IntegerAttr>("qnext.weights_size");
  if (!entries || !size)
    return planError("missing (run qnext-bind-params first)");
  WeightPlan plan;
  plan.size = size.getInt();
  for (mlir::Attribute a : entries) {
    auto d = mlir::dyn_cast<mlir::DictionaryAttr>(a);
    auto name = d ? d.getAs<mlir::StringAttr>("name") : nullptr;
    auto transform = d ? d.getAs<mlir::StringAttr>("transform") : nullptr;
    auto dtype = d ? d.getAs<mlir::TypeAttr>("dtype") : nullptr;
    auto shape = d ? d.getAs<mlir::DenseI64ArrayAttr>("shape") : nullptr;
    auto offset = d ? d.getAs<mlir::IntegerAttr>("offset") : nullptr;
    auto bytes = d ? d.getAs<mlir::IntegerAttr>("bytes") : nullptr;
    if (!name || !transform || !dtype || !shape || !offset || !bytes)
      return planError("malformed entry");
    PackedTensor t;
    t.name = name.str();
    t.transform = transform.str();
    std::optional<DType> dt = dtypeOf(dtype.getValue());
    if (!dt)
      return planError("unsupported dtype for " + t.name);
    t.dtype = *dt;
    t.shape.assign(shape.asArrayRef().begin(), shape.asArrayRef().end());
    t.offset = offset.getInt();
    t.bytes = bytes.getInt();
    if (auto g = d.getAs<mlir::DictionaryAttr>("geometry")) {
      auto get = [&](const char *key, int64_t fallback) {
        auto v = g.getAs<mlir::IntegerAttr>(key);
        return v ? v.getInt() : fallback;
      };
      t.geometry = {get("num_key_heads", 0), get("num_value_heads", 0),
                    get("key_head_dim", 1), get("value_head_dim", 1)};
    }
    plan.tensors.push_back(std::move(t));
  }
  std::sort(plan.tensors.begin(), plan.tensors.end(),
            [](const PackedTensor &a, const PackedTensor &b) {
              return a.offset < b.offset;
            });
  return plan;
}

Error packWeights(
    const WeightPlan &plan, const Checkpoint &checkpoint,
    llvm::function_ref<Error(uint64_t, llvm::ArrayRef<uint8_t>)> sink) {
  std::vector<uint8_t> buffer;
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
    return checkpoint.bytes(*info);
  };

  for (const PackedTensor &t : plan.tensors) {
    for (const TensorInfo *info : used)
      checkpoint.release(*info);
    used.clear();
    const int64_t elt = dtypeSize(t.dtype);
    if (t.transform == "none") {
      size_t at = t.name.find("{e}");
      if (at == std::string::npos) {
        auto bytes = source(t.name, t.shape, t.dtype);
        if (!bytes)
          return bytes.takeError();
        if (Error e = sink(t.offset, *bytes))
          return e;
        continue;
      }
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
      if (Error e = sink(t.offset, buffer))
        return e;
      continue;
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
    if (Error e = sink(t.offset, buffer))
      return e;
  }
  return Error::success();
}

} // namespace qnext
