//===- OpOracle.cpp - run one lowered qnext op, compare with C++ ----------===//

#include "OpOracle.h"

#include "qnext/InitAll.h"
#include "qnext/MemRefDescriptor.h"
#include "qnext/Model/Synth.h"
#include "qnext/Target/CPUPipeline.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>

namespace qnext::oracle {

int64_t vectorWidth = 8;
std::string activations = "f32";
bool vnni = true;
bool amx = false;
int64_t bf16Terms = 1;

int64_t Buffer::size() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1),
                         std::multiplies<int64_t>());
}

static std::string dims(const Buffer &b) {
  std::string s;
  for (size_t i = 0; i < b.shape.size(); ++i)
    s += (i == 0 && b.dynamicFirst ? std::string("?")
                                   : std::to_string(b.shape[i])) +
         "x";
  return s;
}
std::string Buffer::tensorType() const {
  return elt == "index" ? "index" : "tensor<" + dims(*this) + elt + ">";
}
std::string Buffer::memrefType() const {
  Buffer fixed = *this;
  fixed.dynamicFirst = false;
  return "memref<" + dims(fixed) + elt + ">";
}
static int64_t flat(const Buffer &b, std::initializer_list<int64_t> index) {
  int64_t f = 0, i = 0;
  for (int64_t x : index)
    f = f * b.shape[i++] + x;
  return f;
}
float Buffer::at(std::initializer_list<int64_t> index) const {
  return values[flat(*this, index)];
}
int64_t Buffer::intAt(std::initializer_list<int64_t> index) const {
  return ints[flat(*this, index)];
}

Buffer f32(std::vector<int64_t> shape, std::mt19937 &rng, float lo, float hi) {
  Buffer b;
  b.elt = "f32";
  b.shape = std::move(shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  b.values.resize(b.size());
  for (float &v : b.values)
    v = dist(rng);
  return b;
}
Buffer bf16(std::vector<int64_t> shape, std::mt19937 &rng, float lo, float hi) {
  Buffer b = f32(std::move(shape), rng, lo, hi);
  b.elt = "bf16";
  std::vector<uint8_t> bytes;
  encodeFloats(b.values, DType::BF16, bytes);
  for (size_t i = 0; i < b.values.size(); ++i) { // round to what is stored
    uint32_t bits = uint32_t(bytes[2 * i] | bytes[2 * i + 1] << 8) << 16;
    std::memcpy(&b.values[i], &bits, 4);
  }
  return b;
}
Buffer ints(const std::string &elt, std::vector<int64_t> shape,
            std::vector<int64_t> values) {
  Buffer b;
  b.elt = elt;
  b.shape = std::move(shape);
  b.ints = std::move(values);
  return b;
}
Buffer index(int64_t value) { return ints("index", {}, {value}); }
Buffer out(const std::string &elt, std::vector<int64_t> shape) {
  Buffer b;
  b.elt = elt;
  b.shape = std::move(shape);
  if (elt == "f32" || elt == "bf16")
    b.values.assign(b.size(), 0.0f);
  else
    b.ints.assign(b.size(), 0);
  return b;
}
Buffer dynamic(Buffer b) {
  b.dynamicFirst = true;
  return b;
}

namespace {
/// A buffer's bytes and the memref descriptor the kernel receives.
struct Storage {
  std::vector<uint8_t> bytes;
  std::optional<MemRefDescriptor> descriptor;
  int64_t scalar = 0;

  explicit Storage(const Buffer &b) {
    if (b.elt == "index") {
      scalar = b.ints[0];
      return;
    }
    int64_t width = b.elt == "bf16" ? 2 : b.elt == "i64" ? 8 : b.elt == "i8" ? 1 : 4;
    bytes.resize(std::max<int64_t>(1, b.size()) * width);
    for (int64_t i = 0; i < b.size(); ++i) {
      uint8_t *p = &bytes[i * width];
      if (b.elt == "f32")
        std::memcpy(p, &b.values[i], 4);
      else if (b.elt == "bf16") {
        uint32_t bits;
        std::memcpy(&bits, &b.values[i], 4);
        uint16_t top = bits >> 16;
        std::memcpy(p, &top, 2);
      } else if (b.elt == "i32") {
        int32_t v = int32_t(b.ints[i]);
        std::memcpy(p, &v, 4);
      } else if (b.elt == "i8") {
        *p = uint8_t(int8_t(b.ints[i]));
      } else {
        std::memcpy(p, &b.ints[i], 8);
      }
    }
    descriptor.emplace(bytes.data(), b.shape);
  }
  void *argument() {
    return descriptor ? descriptor->argument() : static_cast<void *>(&scalar);
  }

  void readBack(Buffer &b) const {
    for (int64_t i = 0; i < b.size(); ++i) {
      const uint8_t *p = &bytes[i * (b.elt == "i64" ? 8 : 4)];
      if (b.elt == "f32")
        std::memcpy(&b.values[i], p, 4);
      else if (b.elt == "i32") {
        int32_t v;
        std::memcpy(&v, p, 4);
        b.ints[i] = v;
      } else {
        std::memcpy(&b.ints[i], p, 8);
      }
    }
  }
};
} // namespace

std::vector<Buffer> run(const std::string &body, std::vector<Buffer> inputs,
                        std::vector<Buffer> outputs, bool gatherExperts) {
  static bool initialized = [] {
    mlir::qnext::registerAllPasses(); // the pipeline is parsed by pass name
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;

  std::string text = "func.func @kernel(";
  for (size_t i = 0; i < inputs.size(); ++i)
    text += (i ? ", %a" : "%a") + std::to_string(i) + ": " +
            inputs[i].tensorType();
  for (size_t i = 0; i < outputs.size(); ++i)
    text += ", %o" + std::to_string(i) + ": " + outputs[i].memrefType();
  text += ") attributes {llvm.emit_c_interface} {\n" + body + "\n";
  for (size_t i = 0; i < outputs.size(); ++i) {
    Buffer t = outputs[i];
    t.dynamicFirst = false; // results are typed by the op; cast to static
    text += "  %s" + std::to_string(i) + " = tensor.cast %r" +
            std::to_string(i) + " : ";
    // The op's result type is found by the parser; a cast to the static
    // type makes the destination match the memref.
    text += "__RESULT" + std::to_string(i) + "__ to " + t.tensorType() + "\n";
    text += "  bufferization.materialize_in_destination %s" + std::to_string(i) +
            " in restrict writable %o" + std::to_string(i) + " : (" +
            t.tensorType() + ", " + t.memrefType() + ") -> ()\n";
  }
  text += "  return\n}\n";
  // Result types: as the outputs, with the first dim dynamic where the body
  // says so (bodies spell their result types; we mirror output i's dynamic
  // flag).
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string key = "__RESULT" + std::to_string(i) + "__";
    text.replace(text.find(key), key.size(), outputs[i].tensorType());
  }

  mlir::DialectRegistry registry;
  mlir::qnext::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::registerBuiltinDialectTranslation(context);
  mlir::registerLLVMDialectTranslation(context);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  if (!module) {
    ADD_FAILURE() << "kernel does not parse:\n" << text;
    return {};
  }
  mlir::PassManager pm(&context);
  // Sequential loops: the JIT links no OpenMP runtime (the qnext-run lit
  // tests run the same kernels threaded).
  mlir::qnext::CPUPipelineOptions pipelineOptions;
  pipelineOptions.threads = false;
  pipelineOptions.gatherExperts = gatherExperts;
  pipelineOptions.vectorWidth = vectorWidth;
  pipelineOptions.activations = activations;
  pipelineOptions.vnni = vnni;
  pipelineOptions.bf16Terms = bf16Terms;
  pipelineOptions.amx = amx;
  if (mlir::failed(mlir::qnext::buildCPUPipeline(
          pm, mlir::qnext::CPUPhase::LLVMDialect, pipelineOptions)) ||
      mlir::failed(pm.run(*module))) {
    ADD_FAILURE() << "CPU pipeline failed on:\n" << text;
    return {};
  }
  mlir::ExecutionEngineOptions options;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Default;
  auto engine = mlir::ExecutionEngine::create(*module, options);
  if (!engine) {
    ADD_FAILURE() << "JIT failed: " << llvm::toString(engine.takeError());
    return {};
  }
  std::vector<Storage> storage;
  storage.reserve(inputs.size() + outputs.size());
  for (const Buffer &b : inputs)
    storage.emplace_back(b);
  for (const Buffer &b : outputs)
    storage.emplace_back(b);
  std::vector<void *> args;
  for (Storage &s : storage)
    args.push_back(s.argument());
  if (llvm::Error e = (*engine)->invokePacked("_mlir_ciface_kernel", args)) {
    ADD_FAILURE() << "invoke failed: " << llvm::toString(std::move(e));
    return {};
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    storage[inputs.size() + i].readBack(outputs[i]);
  return outputs;
}

Diff compare(const Buffer &actual, const std::vector<double> &expected) {
  Diff d;
  EXPECT_EQ(int64_t(expected.size()), actual.size());
  for (size_t i = 0; i < expected.size() && int64_t(i) < actual.size(); ++i) {
    double e = std::fabs(actual.values[i] - expected[i]) /
               (1.0 + std::fabs(expected[i]));
    if (!(e <= d.worst)) { // NaN counts as worst
      d.worst = std::isnan(e) ? INFINITY : e;
      d.at = int64_t(i);
    }
  }
  return d;
}

::testing::AssertionResult close(const Buffer &actual,
                                 const std::vector<double> &expected) {
  Diff d = compare(actual, expected);
  if (d.worst <= kTolerance)
    return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure()
                 << "relative error " << d.worst << " at flat index " << d.at;
  if (d.at >= 0 && d.at < int64_t(expected.size()))
    failure << " (got " << actual.values[d.at] << ", want " << expected[d.at]
            << ")";
  return failure;
}

std::vector<double> expertSwiGLU(const Buffer &x, const Buffer &w, const Buffer &idx,
                                 const Buffer &gate, const Buffer &up, const Buffer &down,
                                 const std::function<double(double)> &input) {
  auto in = [&](double v) { return input ? input(v) : v; };
  const int64_t t = x.shape[0], h = x.shape[1], k = idx.shape[1], inter = gate.shape[1];
  std::vector<double> want(t * h, 0);
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < k; ++j) {
      int64_t ex = idx.intAt({i, j});
      std::vector<double> act(inter);
      for (int64_t n = 0; n < inter; ++n) {
        double gv = 0, uv = 0;
        for (int64_t c = 0; c < h; ++c) {
          gv += gate.at({ex, n, c}) * in(x.at({i, c}));
          uv += up.at({ex, n, c}) * in(x.at({i, c}));
        }
        act[n] = in(gv / (1.0 + std::exp(-gv)) * uv);
      }
      for (int64_t m = 0; m < h; ++m) {
        double dv = 0;
        for (int64_t n = 0; n < inter; ++n)
          dv += down.at({ex, m, n}) * act[n];
        want[i * h + m] += w.at({i, j}) * dv;
      }
    }
  return want;
}

} // namespace qnext::oracle
