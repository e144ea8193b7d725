//===- SafeTensors.h - mmap'd, validated safetensors checkpoints -*- C++ -*-===//
//
// A reader that maps each file and validates its header before trusting it
// (lengths, JSON, dtypes, shapes, offsets inside the data, sizes consistent
// with shape x dtype, no overlaps), and a Checkpoint that joins the shards of
// model.safetensors.index.json. Tensor bytes are never copied.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_SAFETENSORS_H
#define QNEXT_MODEL_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qnext {

/// The dtypes of the safetensors format. qnext computes with F32, BF16 and
/// F16; the others are recognised so that errors can name them.
enum class DType { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8,
                   U8, BOOL };

std::optional<DType> parseDType(llvm::StringRef name);
llvm::StringRef dtypeName(DType dtype);
int64_t dtypeSize(DType dtype);
/// F32, BF16, F16: the dtypes qnext can compute with today.
bool isSupportedWeightDType(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0; ///< data_offsets[0], relative to the data region
  uint64_t end = 0;   ///< data_offsets[1]
  unsigned fileIndex = 0; ///< which file of the Checkpoint holds it

  int64_t numElements() const;
  uint64_t numBytes() const { return end - begin; }
};

/// "[2, 3]" for messages.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// One tensor of a safetensors file being written.
struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t bytes;
};

/// What precedes the data of a safetensors file holding `tensors` back to
/// back, in order: the header's 8-byte little-endian length and the header
/// (`__metadata__` {"format": "pt"}, then each tensor's dtype, shape and
/// data_offsets), padded with spaces to a multiple of 8 bytes.
std::string safetensorsPreamble(llvm::ArrayRef<TensorEntry> tensors);

/// Parses and validates a whole safetensors file image; errors start with
/// `fileName`. Exposed for tests; SafeTensorsFile::open uses it.
llvm::Expected<std::vector<TensorInfo>>
parseSafeTensors(llvm::StringRef fileName, llvm::StringRef image,
                 uint64_t *dataStart = nullptr);

/// One mapped .safetensors file.
class SafeTensorsFile {
public:
  /// Maps and validates `path`; its tensors get `fileIndex`.
  static llvm::Expected<std::unique_ptr<SafeTensorsFile>>
  open(llvm::StringRef path, unsigned fileIndex = 0);

  llvm::StringRef path() const { return filePath; }
  const std::vector<TensorInfo> &tensors() const { return infos; }
  /// The tensor's bytes, inside the mapping.
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &info) const;

private:
  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint64_t dataStart = 0;
  std::vector<TensorInfo> infos;
};

/// A checkpoint folder: model.safetensors, or the shards listed by
/// model.safetensors.index.json.
class Checkpoint {
public:
  static llvm::Expected<std::unique_ptr<Checkpoint>>
  open(llvm::StringRef directory);

  const TensorInfo *find(llvm::StringRef name) const;
  /// Every tensor of every file, in file order.
  std::vector<const TensorInfo *> tensors() const;
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &info) const {
    return files[info.fileIndex]->bytes(info);
  }
  /// Tells the kernel the tensor's pages are no longer needed: they leave
  /// this process's resident set (and are read again if touched). Packing
  /// calls it after each tensor, so memory stays near one tensor.
  void release(const TensorInfo &info) const;
  /// The file name (not the path) that holds `info`.
  llvm::StringRef fileName(const TensorInfo &info) const;
  size_t numFiles() const { return files.size(); }

private:
  std::vector<std::unique_ptr<SafeTensorsFile>> files;
  llvm::StringMap<const TensorInfo *> byName;
};

} // namespace qnext

#endif // QNEXT_MODEL_SAFETENSORS_H
