//===- Fusions.h - the fusion passes a pipeline can run ---------*- C++ -*-===//
//
// The table qnext-compile's --fusion / --fuse / --no-fuse choose from. Each
// fusion is one pass of passes/Fusion; the pipelines run the chosen ones, in
// table order, right after qnext-decompose-layers (the "fused" phase, built
// by addFusionPasses in FrontEnd.h).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TARGET_FUSIONS_H
#define QNEXT_TARGET_FUSIONS_H

#include "qnext/Passes/Passes.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace mlir::qnext {

struct Fusion {
  llvm::StringLiteral name;    ///< --fuse=<name>
  std::unique_ptr<Pass> (*create)(); ///< the pass, with its default options
  bool byDefault;              ///< part of --fusion=default
  llvm::StringLiteral summary; ///< one line for --help and the report
  bool onGPU = true;           ///< the CUDA pipeline can run what it makes
};

inline llvm::ArrayRef<Fusion> allFusions() {
  static const Fusion table[] = {
      // Before norm-linear, which would take the gated output norm as
      // out_proj's prologue. The CUDA pipeline has no mapping for the loop
      // over key heads it lowers to. On by default for the CPU: the chain of
      // about twenty small kernels it replaces cost a decode step more than
      // its weights' time (docs/benchmarks.md).
      {llvm::StringLiteral("deltanet-step"), createFuseDeltaNetStep, true,
       llvm::StringLiteral("a DeltaNet decode step's conv .. gated norm -> one kernel"),
       /*onGPU=*/false},
      // Before swiglu, which leaves the expert ops it groups alone. Only the
      // CPU's kernel generator makes the gather form grouped kernels.
      {llvm::StringLiteral("moe"), createFuseMoE, false,
       llvm::StringLiteral("a decode step's routed experts -> two grouped kernels"),
       /*onGPU=*/false},
      // Before projections: the gate and up projections it groups are one
      // kernel already, and projections leaves grouped ones alone. The GPU
      // pipeline has no kernel for the groups.
      {llvm::StringLiteral("swiglu"), createFuseSwiGLU, false,
       llvm::StringLiteral("gate + up projections + silu * mul -> one kernel"),
       /*onGPU=*/false},
      {llvm::StringLiteral("projections"), createFuseProjections, true,
       llvm::StringLiteral("projections sharing an input -> one matmul")},
      // After projections (a norm then feeds the one fused projection),
      // before add-norm (which leaves grouped norms alone). The groups are
      // made kernels by the CPU's kernel generator only.
      {llvm::StringLiteral("norm-linear"), createFuseNormLinear, false,
       llvm::StringLiteral("RMSNorm -> the prologue of the projection reading it"),
       /*onGPU=*/false},
      {llvm::StringLiteral("gate-linear"), createFuseGateLinear, false,
       llvm::StringLiteral("attention's output gate -> o_proj's prologue"),
       /*onGPU=*/false},
      {llvm::StringLiteral("add-norm"), createFuseAddNorm, false,
       llvm::StringLiteral("residual add + the next RMSNorm -> one op")},
      {llvm::StringLiteral("norm-rope"), createFuseNormRope, false,
       llvm::StringLiteral("QK-norm + partial RoPE -> one op")},
      // The loop over tokens holds parallel kernels and reads the argmax
      // back to index with it: on the GPU the host would steer by device
      // memory (qnext-gpu-offload refuses it).
      {llvm::StringLiteral("router"), createFuseRouter, false,
       llvm::StringLiteral("softmax + top-k + renormalise -> one kernel per token"),
       /*onGPU=*/false},
  };
  return table;
}

inline const Fusion *findFusion(llvm::StringRef name) {
  for (const Fusion &f : allFusions())
    if (f.name == name)
      return &f;
  return nullptr;
}

/// The names of every fusion, for messages: "a, b, c".
inline std::string fusionNames() {
  std::vector<std::string> names;
  for (const Fusion &f : allFusions())
    names.push_back(f.name.str());
  return llvm::join(names, ", ");
}

} // namespace mlir::qnext

#endif // QNEXT_TARGET_FUSIONS_H
