//===- OpOracle.h - run one lowered qnext op, compare with C++ -*- C++ -*-===//
//
// In the spirit of llama.cpp's test-backend-ops: a kernel holding one qnext op
// is compiled by the real CPU pipeline (buildCPUPipeline), JIT-compiled, and
// run on buffers whose values a plain scalar C++ reference also computes.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TEST_UNIT_OPORACLE_H
#define QNEXT_TEST_UNIT_OPORACLE_H

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace qnext::oracle {

/// A host buffer passed to the kernel as a memref (or an `index` scalar).
struct Buffer {
  std::string elt;            ///< f32, bf16, i8, i32, i64 or index
  std::vector<int64_t> shape; ///< static shape
  bool dynamicFirst = false;  ///< print the first dim as '?'
  std::vector<float> values;  ///< f32/bf16 contents (bf16 already rounded)
  std::vector<int64_t> ints;  ///< i8/i32/i64/index contents

  int64_t size() const;
  std::string tensorType() const;
  std::string memrefType() const;
  float at(std::initializer_list<int64_t> index) const;
  int64_t intAt(std::initializer_list<int64_t> index) const;
};

Buffer f32(std::vector<int64_t> shape, std::mt19937 &rng, float lo = -1,
           float hi = 1);
Buffer bf16(std::vector<int64_t> shape, std::mt19937 &rng, float lo = -1,
            float hi = 1);
Buffer ints(const std::string &elt, std::vector<int64_t> shape,
            std::vector<int64_t> values);
Buffer index(int64_t value);
/// An output of this element type and shape (contents ignored on input).
Buffer out(const std::string &elt, std::vector<int64_t> shape);
Buffer dynamic(Buffer b); ///< the same buffer typed with a dynamic first dim

/// The f32 lanes run() compiles the kernels for: 8 is the AVX2 family (4-row
/// decode blocks, 4x2 prompt blocks), 16 the AVX-512 family (8-row decode
/// blocks, 6x4 prompt blocks). Either runs on any x86-64 CPU: LLVM splits
/// 16-lane vectors where the JIT's CPU has no 512-bit registers, so both
/// families' loop structure is checked on every machine.
extern int64_t vectorWidth;
/// The one-token kernels' inputs for int8/int4 weights (CPUPipelineOptions).
extern std::string activations;
/// With activations "int8": bytes multiplied with vpdpbusd, or (false) with
/// vpmaddubsw + vpmaddwd.
extern bool vnni;
/// With activations "bf16": the kernels of several tokens on AMX tiles.
extern bool amx;
/// With activations "bf16": bf16 values an input is the sum of (1 or 2).
extern int64_t bf16Terms;

/// Compiles `body` (MLIR text reading %a0, %a1, ... and defining %r0, %r1,
/// ...) with the CPU pipeline, runs it, and returns the outputs. Outputs
/// start as copies of `outputs` (so an op writing only part of a buffer, like
/// a cache, can be checked against the unchanged rest). Fails the current
/// test (and returns empty buffers) if compilation fails.
/// `gatherExperts`: lower routed experts as the CUDA pipeline does.
std::vector<Buffer> run(const std::string &body, std::vector<Buffer> inputs,
                        std::vector<Buffer> outputs, bool gatherExperts = false);

/// Largest |actual - expected| / (1 + |expected|), and the flat index where.
struct Diff {
  double worst = 0;
  int64_t at = -1;
};
Diff compare(const Buffer &actual, const std::vector<double> &expected);

/// qnext.expert_swiglu in double: y[t] = sum_i w[t, i] * down_e(silu(gate_e
/// x[t]) * up_e x[t]), e = idx[t, i]. `input` maps each value a projection
/// multiplies (x's, and silu(gate) * up's) to what its kernel reads (none:
/// as it is, the f32 path).
std::vector<double> expertSwiGLU(const Buffer &x, const Buffer &w, const Buffer &idx,
                                 const Buffer &gate, const Buffer &up, const Buffer &down,
                                 const std::function<double(double)> &input = {});

/// The oracles' tolerance on compare()'s relative error: f32 sums against
/// double ones.
constexpr double kTolerance = 2e-5;
/// Success when compare(actual, expected) is within kTolerance; otherwise
/// the worst element, got and wanted.
::testing::AssertionResult close(const Buffer &actual,
                                 const std::vector<double> &expected);

} // namespace qnext::oracle

#endif // QNEXT_TEST_UNIT_OPORACLE_H
