/*===- MemRefDescriptor.h - MLIR's C memref descriptor ---------*- C++ -*-===*
 *
 * The `{allocated, aligned, offset, sizes[R], strides[R]}` struct through
 * which generated code (MLIR's C interface) receives a buffer, built over
 * host memory with row-major strides. Plain C++, no MLIR.
 *===----------------------------------------------------------------------===*/

#ifndef QNEXT_RUNTIME_MEMREFDESCRIPTOR_H
#define QNEXT_RUNTIME_MEMREFDESCRIPTOR_H

#include <cstdint>
#include <vector>

namespace qnext {

class MemRefDescriptor {
public:
  MemRefDescriptor(const void *data, const std::vector<int64_t> &shape) {
    const int64_t rank = int64_t(shape.size());
    fields.assign(3 + 2 * rank, 0);
    fields[0] = fields[1] = reinterpret_cast<int64_t>(data);
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      fields[3 + d] = shape[d];
      fields[3 + rank + d] = stride;
      stride *= shape[d];
    }
    pointer = fields.data();
  }
  MemRefDescriptor(const MemRefDescriptor &other)
      : fields(other.fields), pointer(fields.data()) {}
  MemRefDescriptor &operator=(const MemRefDescriptor &) = delete;

  /// What a packed entry point's args[i] holds for this argument: the
  /// address of a pointer to the descriptor.
  void *argument() { return &pointer; }

private:
  std::vector<int64_t> fields;
  void *pointer;
};

} // namespace qnext

#endif // QNEXT_RUNTIME_MEMREFDESCRIPTOR_H
