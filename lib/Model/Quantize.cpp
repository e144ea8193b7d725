//===- Quantize.cpp - int8 weights made from any checkpoint ---------------===//

#include "qnext/Model/Quantize.h"

#include "qnext/Model/FP8.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cmath>

namespace qnext {

std::string WeightFormat::str() const {
  switch (kind) {
  case Stored:
    return "stored";
  case Int8:
    return "int8:" + std::to_string(group);
  }
  return "?";
}

llvm::Expected<WeightFormat> parseWeightFormat(llvm::StringRef spec) {
  auto bad = [&](const llvm::Twine &why) {
    return llvm::createStringError("--weights=" + spec.str() + ": " + why.str());
  };
  auto [kind, group] = spec.split(':');
  WeightFormat format;
  if (kind == "stored") {
    if (!group.empty())
      return bad("'stored' takes no group");
    return format;
  }
  if (kind != "int8")
    return bad("expected stored, int8 or int8:GROUP (int4 is not generated yet)");
  format.kind = WeightFormat::Int8;
  if (spec.contains(':')) {
    if (group.empty() || !llvm::all_of(group, llvm::isDigit) || group.size() > 9 ||
        group.getAsInteger(10, format.group))
      return bad("the group must be a number of columns");
    if (format.group <= 0 || format.group % 16 != 0)
      return bad("the group must be a positive multiple of 16 (the kernels' "
                 "vectors tile it), got " + llvm::Twine(format.group));
  }
  return format;
}

bool isQuantizedProjection(llvm::StringRef name) {
  if (!name.contains(".layers.") || name.starts_with("mtp."))
    return false;
  for (llvm::StringRef suffix :
       {".self_attn.q_proj.weight", ".self_attn.k_proj.weight",
        ".self_attn.v_proj.weight", ".self_attn.o_proj.weight",
        ".linear_attn.in_proj_qkvz.weight", ".linear_attn.in_proj_qkv.weight",
        ".linear_attn.in_proj_z.weight", ".linear_attn.out_proj.weight",
        ".gate_proj.weight", ".up_proj.weight", ".down_proj.weight",
        ".mlp.experts.gate_up_proj", ".mlp.experts.down_proj"})
    if (name.ends_with(suffix))
      return true;
  return false;
}

void quantizeInt8(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                  int64_t group, int8_t *q, float *scales) {
  const int64_t groups = (cols + group - 1) / group;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = g * group, end = std::min(cols, begin + group);
      const float *x = values.data() + r * cols;
      float amax = 0.0f;
      for (int64_t c = begin; c < end; ++c)
        amax = std::max(amax, std::fabs(x[c]));
      const float scale = amax / 127.0f;
      scales[r * groups + g] = scale;
      for (int64_t c = begin; c < end; ++c) {
        float v = scale > 0.0f ? std::round(x[c] / scale) : 0.0f;
        q[r * cols + c] = int8_t(std::clamp(v, -127.0f, 127.0f));
      }
    }
}

void dequantizeInt8(const int8_t *q, const float *scales, int64_t rows,
                    int64_t cols, int64_t group, float *out) {
  const int64_t groups = (cols + group - 1) / group;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = float(q[r * cols + c]) * scales[r * groups + c / group];
}

llvm::Error readAsF32(const Checkpoint &checkpoint, const TensorInfo &info,
                      std::array<int64_t, 2> fp8Block, std::vector<float> &out) {
  llvm::ArrayRef<uint8_t> bytes = checkpoint.bytes(info);
  const int64_t count = info.numElements();
  out.resize(size_t(count));
  switch (info.dtype) {
  case DType::F32:
  case DType::BF16:
  case DType::F16: {
    const size_t size = dtypeSize(info.dtype);
    for (int64_t i = 0; i < count; ++i)
      out[i] = readScale(bytes.data() + i * size, info.dtype);
    return llvm::Error::success();
  }
  case DType::F8_E4M3: {
    const TensorInfo *scale = checkpoint.find(fp8ScaleName(info.name));
    if (!scale || info.shape.size() != 2)
      return llvm::createStringError(checkpoint.fileName(info).str() + ": tensor '" +
                                     info.name + "' is F8_E4M3 without its block scale");
    dequantizeFP8(bytes, info.shape[0], info.shape[1], checkpoint.bytes(*scale),
                  scale->dtype, fp8Block, out.data());
    checkpoint.release(*scale);
    return llvm::Error::success();
  }
  default:
    return llvm::createStringError(checkpoint.fileName(info).str() + ": tensor '" +
                                   info.name + "' is " + dtypeName(info.dtype).str() +
                                   ", not a float format qnext quantizes");
  }
}

llvm::Error quantizeTensor(const Checkpoint &checkpoint, const TensorInfo &info,
                           std::array<int64_t, 2> fp8Block, int64_t group,
                           std::vector<float> &scratch, Int8Tensor &out) {
  if (llvm::Error e = readAsF32(checkpoint, info, fp8Block, scratch))
    return e;
  for (size_t i = 0; i < scratch.size(); ++i)
    if (!std::isfinite(scratch[i]))
      return llvm::createStringError(
          checkpoint.fileName(info).str() + ": tensor '" + info.name + "' holds " +
          (std::isnan(scratch[i]) ? "NaN" : "an infinity") + " at index " +
          std::to_string(i) + " (a weight quantized to int8 must be finite)");
  out.cols = info.shape.empty() ? 0 : info.shape.back();
  out.rows = out.cols ? int64_t(scratch.size()) / out.cols : 0;
  out.values.resize(scratch.size());
  out.scales.resize(size_t(out.rows * ((out.cols + group - 1) / group)));
  quantizeInt8(scratch, out.rows, out.cols, group, out.values.data(), out.scales.data());
  return llvm::Error::success();
}

} // namespace qnext
