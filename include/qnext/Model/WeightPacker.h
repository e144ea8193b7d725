//===- WeightPacker.h - the packed weights buffer ---------------*- C++ -*-===//
//
// qnext-bind-params records, on the module, where each weight lives in one
// packed buffer and which layout transform produces it (`qnext.weights`).
// The packer executes that plan against a checkpoint, tensor by tensor, so
// memory stays near one tensor.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_WEIGHTPACKER_H
#define QNEXT_MODEL_WEIGHTPACKER_H

#include "qnext/Model/Quantize.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Support/Geometry.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <array>

namespace qnext {

struct PackedTensor {
  std::string name;      ///< checkpoint name; "{e}" for an expert stack
  std::string transform; ///< none, qkvz.qkv, qkvz.z, ba.b, ba.a, concat
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  DeltaNetGeometry geometry; ///< for the qkvz / ba transforms
  /// concat: the parts (no offset of their own), side by side along `dim`
  /// (qnext.concat_weights); `name` joins their names with '+'.
  std::vector<PackedTensor> parts;
  int64_t dim = 0;
  /// A quantized weight's block scales: one checkpoint row (F32, BF16 or
  /// F16) per `blockRows` rows of this f32 tensor, repeated and widened
  /// before any transform; 0 otherwise.
  int64_t blockRows = 0;
  /// A weight qnext quantizes (#qnext.quantize): its format (int8 or int4,
  /// and columns per scale), and whether this tensor is the scales (else the
  /// values); a format that quantizes nothing otherwise.
  WeightFormat quant;
  bool quantScales = false;
};

struct WeightPlan {
  std::vector<PackedTensor> tensors; ///< in offset order
  uint64_t size = 0;
  /// The checkpoint's FP8 block (config.json's weight_block_size), for FP8
  /// tensors the packer quantizes to int8.
  std::array<int64_t, 2> fp8Block = {128, 128};
};

/// Reads `qnext.weights` / `qnext.weights_size` from a module that went
/// through qnext-bind-params.
llvm::Expected<WeightPlan> readWeightPlan(mlir::ModuleOp module);

/// Produces each packed tensor's bytes from `checkpoint` and hands them to
/// `sink(offset, bytes)` in offset order. Checks names, shapes and dtypes
/// against the plan, and every value for NaN and infinity as it streams by
/// (an error naming the tensor and the first such index), unless
/// `allowNonfinite`.
llvm::Error
packWeights(const WeightPlan &plan, const Checkpoint &checkpoint,
            llvm::function_ref<llvm::Error(uint64_t, llvm::ArrayRef<uint8_t>)>
                sink,
            bool allowNonfinite = false);

/// The index of the first NaN or infinity among `bytes` read as `dtype`
/// (F32, BF16 or F16), and which it is; -1 when every value is finite.
int64_t firstNonfinite(llvm::ArrayRef<uint8_t> bytes, DType dtype, bool &isNaN);

} // namespace qnext

#endif // QNEXT_MODEL_WEIGHTPACKER_H
