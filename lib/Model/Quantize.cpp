//===- Quantize.cpp - int8 and int4 weights made from any checkpoint -----===//

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
  case Int4:
    return "int4:" + std::to_string(group);
  }
  return "?";
}

llvm::Expected<WeightFormat> parseWeightFormat(llvm::StringRef spec,
                                               llvm::StringRef lmHead) {
  auto bad = [&](const llvm::Twine &why) {
    return llvm::createStringError("--weights=" + spec.str() + ": " + why.str());
  };
  auto [kind, group] = spec.split(':');
  WeightFormat format;
  if (kind == "stored") {
    if (!group.empty())
      return bad("'stored' takes no group");
    if (!lmHead.empty())
      return llvm::createStringError("--lm-head=" + lmHead.str() +
                                     ": lm_head is quantized with the projections: "
                                     "give --weights=int8 or --weights=int4");
    return format;
  }
  if (kind != "int8" && kind != "int4")
    return bad("expected stored, int8[:GROUP] or int4[:GROUP]");
  format.kind = kind == "int8" ? WeightFormat::Int8 : WeightFormat::Int4;
  const int64_t multiple = format.kind == WeightFormat::Int4 ? kInt4Tile : 16;
  if (spec.contains(':')) {
    if (group.empty() || !llvm::all_of(group, llvm::isDigit) || group.size() > 9 ||
        group.getAsInteger(10, format.group))
      return bad("the group must be a number of columns");
    if (format.group <= 0 || format.group % multiple != 0)
      return bad("the group must be a positive multiple of " + llvm::Twine(multiple) +
                 (format.kind == WeightFormat::Int4
                      ? " (int4's tile of columns), got "
                      : " (the kernels' vectors tile it), got ") +
                 llvm::Twine(format.group));
  }
  if (lmHead.empty() || lmHead == "int8")
    return format;
  if (lmHead == "stored") {
    format.head = WeightFormat::Stored;
    return format;
  }
  if (lmHead != "int4")
    return llvm::createStringError("--lm-head=" + lmHead.str() +
                                   ": expected int8, int4 or stored");
  if (format.group % kInt4Tile != 0)
    return llvm::createStringError(
        "--lm-head=int4: the group must be a multiple of " + llvm::Twine(kInt4Tile) +
        " (int4's tile of columns), got " + llvm::Twine(format.group) +
        " (--weights=" + spec.str() + ")");
  format.head = WeightFormat::Int4;
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

void dequantizeInt8(const int8_t *q, const float *scales, int64_t rows,
                    int64_t cols, int64_t group, float *out) {
  const int64_t groups = (cols + group - 1) / group;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = float(q[r * cols + c]) * scales[r * groups + c / group];
}

namespace {
/// Symmetric quantization of each group of each row to [-limit, limit]:
/// `put(row, col, q)` receives every value.
template <typename Put>
void quantizeRows(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                  int64_t group, float limit, float *scales, Put put) {
  const int64_t groups = (cols + group - 1) / group;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = g * group, end = std::min(cols, begin + group);
      const float *x = values.data() + r * cols;
      float amax = 0.0f;
      for (int64_t c = begin; c < end; ++c)
        amax = std::max(amax, std::fabs(x[c]));
      const float scale = amax / limit;
      scales[r * groups + g] = scale;
      for (int64_t c = begin; c < end; ++c) {
        float v = scale > 0.0f ? std::round(x[c] / scale) : 0.0f;
        put(r, c, int8_t(std::clamp(v, -limit, limit)));
      }
    }
}
} // namespace

WeightFormat formatOf(const WeightFormat &chosen, llvm::StringRef name) {
  if (!chosen.quantizes())
    return chosen;
  if (isQuantizedProjection(name))
    return chosen;
  if (name == "lm_head.weight" && chosen.head != WeightFormat::Stored)
    return {chosen.head, chosen.group};
  return {};
}

llvm::Error checkColumns(llvm::StringRef spec, const WeightFormat &chosen,
                         llvm::StringRef name, int64_t cols) {
  if (formatOf(chosen, name).kind != WeightFormat::Int4 || cols % kInt4Tile == 0)
    return llvm::Error::success();
  const bool head = name == "lm_head.weight";
  return llvm::createStringError((head ? "--lm-head=int4" : "--weights=" + spec.str()) +
                                 ": '" + name.str() +
                                 "' has " + std::to_string(cols) +
                                 " columns, int4 stores whole tiles of " +
                                 std::to_string(kInt4Tile) +
                                 (head ? " (--lm-head=int8 takes any)"
                                       : " (--weights=int8 takes any)"));
}

namespace {
/// Where int4 column `c` of a row lies: its byte, and whether in the high
/// nibble (see the file comment).
std::pair<int64_t, bool> int4Place(int64_t c) {
  const int64_t tile = c / kInt4Tile, j = c % kInt4Tile, half = kInt4Tile / 2;
  return {tile * half + j % half, j >= half};
}
} // namespace

void quantizeInt8(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                  int64_t group, int8_t *q, float *scales) {
  quantizeRows(values, rows, cols, group, 127.0f, scales,
               [&](int64_t r, int64_t c, int8_t v) { q[r * cols + c] = v; });
}

void quantizeInt4(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                  int64_t group, int8_t *packed, float *scales) {
  std::fill(packed, packed + rows * cols / 2, int8_t(0));
  quantizeRows(values, rows, cols, group, 7.0f, scales,
               [&](int64_t r, int64_t c, int8_t q) {
                 auto [at, high] = int4Place(c);
                 uint8_t &byte = reinterpret_cast<uint8_t &>(packed[r * cols / 2 + at]);
                 byte |= high ? uint8_t(uint8_t(q) << 4) : uint8_t(uint8_t(q) & 0x0F);
               });
}

int8_t int4At(const int8_t *row, int64_t c) {
  auto [at, high] = int4Place(c);
  const uint8_t byte = uint8_t(row[at]);
  const uint8_t nibble = high ? byte >> 4 : byte & 0x0F;
  return int8_t(nibble >= 8 ? int(nibble) - 16 : int(nibble));
}

void dequantizeInt4(const int8_t *packed, const float *scales, int64_t rows,
                    int64_t cols, int64_t group, float *out) {
  const int64_t groups = (cols + group - 1) / group;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] =
          float(int4At(packed + r * cols / 2, c)) * scales[r * groups + c / group];
}

llvm::Error readAsF32(const Checkpoint &checkpoint, const TensorInfo &info,
                      std::array<int64_t, 2> fp8Block, std::vector<float> &out) {
  const int64_t cols = info.shape.empty() ? 1 : std::max<int64_t>(info.shape.back(), 1);
  return readRowsAsF32(checkpoint, info, fp8Block, 0, info.numElements() / cols, out);
}

llvm::Error readRowsAsF32(const Checkpoint &checkpoint, const TensorInfo &info,
                          std::array<int64_t, 2> fp8Block, int64_t begin, int64_t end,
                          std::vector<float> &out) {
  llvm::ArrayRef<uint8_t> bytes = checkpoint.bytes(info);
  const int64_t cols = info.shape.empty() ? 1 : std::max<int64_t>(info.shape.back(), 1);
  if (begin < 0 || begin > end || end > info.numElements() / cols)
    return llvm::createStringError(checkpoint.fileName(info).str() + ": tensor '" +
                                   info.name + "': rows [" + std::to_string(begin) + ", " +
                                   std::to_string(end) + ") are not rows of it");
  const int64_t count = (end - begin) * cols;
  out.resize(size_t(count));
  switch (info.dtype) {
  case DType::F32:
  case DType::BF16:
  case DType::F16: {
    const size_t size = dtypeSize(info.dtype);
    const uint8_t *first = bytes.data() + size_t(begin * cols) * size;
    for (int64_t i = 0; i < count; ++i)
      out[i] = readScale(first + i * size, info.dtype);
    return llvm::Error::success();
  }
  case DType::F8_E4M3: {
    const TensorInfo *scale = checkpoint.find(fp8ScaleName(info.name));
    if (!scale || info.shape.size() != 2)
      return llvm::createStringError(checkpoint.fileName(info).str() + ": tensor '" +
                                     info.name + "' is F8_E4M3 without its block scale");
    dequantizeFP8Rows(bytes, info.shape[0], info.shape[1], checkpoint.bytes(*scale),
                      scale->dtype, fp8Block, begin, end, out.data());
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
                           std::array<int64_t, 2> fp8Block, const WeightFormat &format,
                           std::vector<float> &scratch, QuantizedTensor &out,
                           int64_t chunkElements) {
  const int64_t cols = info.shape.empty() ? 0 : info.shape.back();
  // (The callers check first; packing a partial tile would write past it.)
  if (format.kind == WeightFormat::Int4 && cols % kInt4Tile != 0)
    return llvm::createStringError(
        checkpoint.fileName(info).str() + ": tensor '" + info.name + "' has " +
        std::to_string(cols) + " columns; int4 stores whole tiles of " +
        std::to_string(kInt4Tile));
  const bool int4 = format.kind == WeightFormat::Int4;
  const int64_t groups = (cols + format.group - 1) / format.group;
  out.cols = cols;
  out.rows = cols ? info.numElements() / cols : 0;
  out.scales.resize(size_t(out.rows * groups));
  out.values.resize(size_t(int4 ? out.rows * cols / 2 : out.rows * cols));
  // Rows by blocks: each read as f32, checked and quantized on its own.
  const int64_t step = std::max<int64_t>(1, chunkElements / std::max<int64_t>(cols, 1));
  for (int64_t begin = 0; begin < out.rows; begin += step) {
    const int64_t end = std::min(out.rows, begin + step), rows = end - begin;
    if (llvm::Error e = readRowsAsF32(checkpoint, info, fp8Block, begin, end, scratch))
      return e;
    for (size_t i = 0; i < scratch.size(); ++i)
      if (!std::isfinite(scratch[i]))
        return llvm::createStringError(
            checkpoint.fileName(info).str() + ": tensor '" + info.name + "' holds " +
            (std::isnan(scratch[i]) ? "NaN" : "an infinity") + " at index " +
            std::to_string(begin * cols + int64_t(i)) + " (a weight quantized to " +
            (int4 ? "int4" : "int8") + " must be finite)");
    float *scales = out.scales.data() + begin * groups;
    if (int4)
      quantizeInt4(scratch, rows, cols, format.group,
                   out.values.data() + begin * cols / 2, scales);
    else
      quantizeInt8(scratch, rows, cols, format.group, out.values.data() + begin * cols,
                   scales);
  }
  return llvm::Error::success();
}

void dequantizeTensor(const QuantizedTensor &q, const WeightFormat &format,
                      float *out) {
  if (format.kind == WeightFormat::Int4)
    dequantizeInt4(q.values.data(), q.scales.data(), q.rows, q.cols, format.group, out);
  else
    dequantizeInt8(q.values.data(), q.scales.data(), q.rows, q.cols, format.group, out);
}

} // namespace qnext
