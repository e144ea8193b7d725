//===- SafeTensors.cpp - mmap'd, validated safetensors checkpoints --------===//
//
// Format: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the data region. Nothing in the header is trusted until checked.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/SafeTensors.h"
#include "qnext/FileChecks.h"
#include "qnext/Messages.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <sys/mman.h>

#include <nlohmann/json.hpp>

#include <algorithm>

using json = nlohmann::json;
using llvm::Expected;
using llvm::StringRef;

namespace qnext {

namespace {
/// Headers above this are refused before being parsed (real ones are a few MB
/// for the 80B model's 75k tensors).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

llvm::Error fail(StringRef file, const llvm::Twine &message) {
  return llvm::createStringError(file.str() + ": " + message.str());
}

struct DTypeEntry {
  DType dtype;
  const char *name;
  int64_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},         {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I64, "I64", 8},         {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},         {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1}};
} // namespace

std::optional<DType> parseDType(StringRef name) {
  for (const DTypeEntry &e : kDTypes)
    if (name == e.name)
      return e.dtype;
  return std::nullopt;
}
StringRef dtypeName(DType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.name;
  return "?";
}
int64_t dtypeSize(DType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.size;
  return 0;
}
bool isSupportedWeightDType(DType dtype) {
  return dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16;
}

int64_t TensorInfo::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string safetensorsPreamble(llvm::ArrayRef<TensorEntry> tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const TensorEntry &t : tensors) {
    header[t.name] = {{"dtype", dtypeName(t.dtype).str()},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string preamble(8, '\0');
  llvm::support::endian::write64le(preamble.data(), text.size());
  return preamble + text;
}

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Expected<std::vector<TensorInfo>> parseSafeTensors(StringRef file,
                                                   StringRef image,
                                                   uint64_t *dataStartOut) {
  if (image.size() < 8)
    return fail(file, "truncated: " + llvm::Twine(image.size()) +
                          " bytes, shorter than the 8-byte header length");
  uint64_t headerLen =
      llvm::support::endian::read64le(image.bytes_begin());
  if (headerLen > kMaxHeaderBytes)
    return fail(file, "header length " + llvm::Twine(headerLen) +
                          " exceeds the 100 MiB limit");
  if (headerLen > image.size() - 8)
    return fail(file, "header length " + llvm::Twine(headerLen) +
                          " runs past the end of the file (" +
                          llvm::Twine(image.size()) + " bytes)");
  StringRef header = image.substr(8, headerLen);
  const uint64_t dataStart = 8 + headerLen;
  const uint64_t dataSize = image.size() - dataStart;

  json root = json::parse(header.begin(), header.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded())
    return fail(file, "header is not valid JSON");
  if (!root.is_object())
    return fail(file, "header must be a JSON object");

  std::vector<TensorInfo> infos;
  infos.reserve(root.size());
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string &name = it.key();
    const json &entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object())
        return fail(file, "__metadata__ must be an object");
      continue;
    }
    auto bad = [&](const llvm::Twine &what) {
      return fail(file, "tensor '" + excerpt(name) + "': " + what);
    };
    if (name.empty())
      return fail(file, "a tensor has an empty name");
    if (!entry.is_object())
      return bad("entry must be an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string())
      return bad("dtype missing or not a string");
    std::string dtypeText = entry["dtype"].get<std::string>();
    std::optional<DType> dtype = parseDType(dtypeText);
    if (!dtype)
      return bad("unknown dtype '" + excerpt(dtypeText) + "'");

    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    if (!entry.contains("shape") || !entry["shape"].is_array())
      return bad("shape missing or not a list");
    // The element count is checked against overflow as it grows.
    uint64_t elements = 1;
    for (const json &d : entry["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        return bad("shape holds " + quoteJSON(d) + ", not a non-negative integer");
      uint64_t dim = d.get<uint64_t>();
      if (dim && elements > (UINT64_MAX / 8) / dim)
        return bad("shape " + quoteJSON(entry["shape"]) + " is too large");
      elements *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const json &offsets = entry.contains("data_offsets") ? entry["data_offsets"]
                                                         : json();
    if (!offsets.is_array() || offsets.size() != 2 ||
        !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return bad("data_offsets must be two non-negative integers");
    info.begin = offsets[0].get<uint64_t>();
    info.end = offsets[1].get<uint64_t>();
    if (info.begin > info.end)
      return bad("data_offsets " + quoteJSON(offsets) + " end before they begin");
    if (info.end > dataSize)
      return bad("data_offsets " + quoteJSON(offsets) +
                 " run past the end of the data (" + llvm::Twine(dataSize) +
                 " bytes)");
    uint64_t needed = elements * static_cast<uint64_t>(dtypeSize(*dtype));
    if (info.end - info.begin != needed)
      return bad("data_offsets " + quoteJSON(offsets) + " hold " +
                 llvm::Twine(info.end - info.begin) + " bytes but shape " +
                 formatShape(info.shape) + " of " + dtypeText + " needs " +
                 llvm::Twine(needed));
    infos.push_back(std::move(info));
  }

  // No two tensors may share bytes.
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &t : infos)
    if (t.numBytes())
      byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return a->begin < b->begin;
            });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i]->begin < byOffset[i - 1]->end)
      return fail(file, "tensors '" + byOffset[i - 1]->name + "' and '" +
                            byOffset[i]->name + "' overlap in the data");
  if (dataStartOut)
    *dataStartOut = dataStart;
  return infos;
}

Expected<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::open(StringRef path, unsigned fileIndex) {
  // A FIFO would block here, /dev/zero (behind a link) be read until memory
  // runs out: regular files only.
  if (std::string error; !checkRegularFile(path.str(), error))
    return llvm::createStringError(error);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, buffer.getError().message());
  auto file = std::unique_ptr<SafeTensorsFile>(new SafeTensorsFile());
  file->filePath = path.str();
  file->buffer = std::move(*buffer);
  auto infos = parseSafeTensors(llvm::sys::path::filename(path),
                                file->buffer->getBuffer(), &file->dataStart);
  if (!infos)
    return infos.takeError();
  file->infos = std::move(*infos);
  for (TensorInfo &info : file->infos)
    info.fileIndex = fileIndex;
  return file;
}

llvm::ArrayRef<uint8_t> SafeTensorsFile::bytes(const TensorInfo &info) const {
  const uint8_t *data =
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart()) + dataStart;
  return {data + info.begin, static_cast<size_t>(info.numBytes())};
}

Expected<std::unique_ptr<Checkpoint>> Checkpoint::open(StringRef directory) {
  auto checkpoint = std::unique_ptr<Checkpoint>(new Checkpoint());
  llvm::SmallString<256> indexPath(directory);
  llvm::sys::path::append(indexPath, "model.safetensors.index.json");

  std::vector<std::string> shardNames;
  json weightMap;
  if (llvm::sys::fs::exists(indexPath)) {
    StringRef indexName = "model.safetensors.index.json";
    if (std::string error; !checkRegularFile(std::string(indexPath), error))
      return llvm::createStringError(error);
    auto buffer = llvm::MemoryBuffer::getFile(indexPath, /*IsText=*/true);
    if (!buffer)
      return fail(indexPath, buffer.getError().message());
    json index = json::parse((*buffer)->getBuffer().begin(),
                             (*buffer)->getBuffer().end(), nullptr, false);
    if (index.is_discarded() || !index.is_object())
      return fail(indexName, "not a valid JSON object");
    if (!index.contains("weight_map") || !index["weight_map"].is_object())
      return fail(indexName, "weight_map missing or not an object");
    weightMap = index["weight_map"];
    for (auto it = weightMap.begin(); it != weightMap.end(); ++it) {
      if (!it.value().is_string())
        return fail(indexName, "weight_map['" + it.key() +
                                   "'] must be a file name");
      std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos ||
          shard.find('\\') != std::string::npos || shard == "." ||
          shard == "..")
        return fail(indexName, "weight_map['" + it.key() + "'] names '" +
                                   shard + "', not a file in the folder");
      if (std::find(shardNames.begin(), shardNames.end(), shard) ==
          shardNames.end())
        shardNames.push_back(shard);
    }
    std::sort(shardNames.begin(), shardNames.end());
  } else {
    shardNames.push_back("model.safetensors");
  }

  for (const std::string &shard : shardNames) {
    llvm::SmallString<256> path(directory);
    llvm::sys::path::append(path, shard);
    auto file = SafeTensorsFile::open(path, checkpoint->files.size());
    if (!file)
      return file.takeError();
    checkpoint->files.push_back(std::move(*file));
  }
  for (unsigned i = 0; i < checkpoint->files.size(); ++i) {
    SafeTensorsFile &file = *checkpoint->files[i];
    for (const TensorInfo &info : file.tensors()) {
      auto [it, inserted] = checkpoint->byName.try_emplace(info.name, &info);
      if (!inserted)
        return fail(llvm::sys::path::filename(file.path()),
                    "tensor '" + info.name + "' is also in " +
                        checkpoint->fileName(*it->second));
    }
  }
  // The index must tell the truth about where each tensor lives.
  for (auto it = weightMap.begin(); it != weightMap.end(); ++it) {
    const TensorInfo *info = checkpoint->find(it.key());
    std::string shard = it.value().get<std::string>();
    if (!info || checkpoint->fileName(*info) != shard)
      return fail("model.safetensors.index.json",
                  "tensor '" + it.key() + "' is mapped to " + shard +
                      ", which does not hold it");
  }
  return checkpoint;
}

const TensorInfo *Checkpoint::find(StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second;
}

std::vector<const TensorInfo *> Checkpoint::tensors() const {
  std::vector<const TensorInfo *> all;
  for (const auto &file : files)
    for (const TensorInfo &info : file->tensors())
      all.push_back(&info);
  return all;
}

void Checkpoint::release(const TensorInfo &info) const {
  llvm::ArrayRef<uint8_t> range = bytes(info);
  const uintptr_t page = llvm::sys::Process::getPageSizeEstimate();
  uintptr_t begin = reinterpret_cast<uintptr_t>(range.data());
  uintptr_t end = begin + range.size();
  begin = (begin + page - 1) / page * page; // whole pages inside the tensor
  end = end / page * page;
  if (end > begin)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

StringRef Checkpoint::fileName(const TensorInfo &info) const {
  return llvm::sys::path::filename(files[info.fileIndex]->path());
}

} // namespace qnext
