//===- OutlineKernels.cpp - each kernel a function named by what it does --===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// How many names of sources a kernel's name lists at most.
constexpr size_t kMaxSources = 4;

/// Whether `op` is a kernel: an scf.parallel, or an op holding one.
bool isKernel(Operation *op) {
  if (isa<scf::ParallelOp>(op))
    return true;
  bool holds = false;
  op->walk([&](scf::ParallelOp) {
    holds = true;
    return WalkResult::interrupt();
  });
  return holds;
}

/// "deltanet" / "attention" for a layer function, "model" otherwise.
std::string layerOf(func::FuncOp func) {
  auto layer = func->getAttrOfType<LayerAttr>(kLayerAttrName);
  if (!layer)
    return "model";
  return layer.getKind() == LayerKind::LinearAttention ? "deltanet"
                                                       : "attention";
}

/// "decode" for `decode` and `decode.layers.3`.
std::string entryOf(func::FuncOp func) {
  return func.getName().take_until([](char c) { return c == '.'; }).str();
}

/// The names qnext-lower-to-linalg gave the locations of `op`'s sources:
/// the outermost name of each that is not a layer's ("layers.3").
void sourcesOf(Location loc, SmallVectorImpl<std::string> &names) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    StringRef text = name.getName().strref();
    if (!text.starts_with("layers.")) {
      if (!llvm::is_contained(names, text))
        names.push_back(text.str());
      return;
    }
    return sourcesOf(name.getChildLoc(), names);
  }
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      sourcesOf(inner, names);
}

/// What `kernel` computes, from its ops' locations.
std::string whatOf(Operation *kernel) {
  SmallVector<std::string> names;
  kernel->walk<WalkOrder::PreOrder>(
      [&](Operation *op) { sourcesOf(op->getLoc(), names); });
  if (names.empty())
    return "loop";
  if (names.size() > kMaxSources) {
    names.resize(kMaxSources);
    names.push_back("...");
  }
  return llvm::join(names, "+");
}

/// The bytes of weights `value` (a kernel's argument) is: a view of the
/// packed weights, or a layer function's argument that carries a weight's
/// name, with a static shape; 0 otherwise.
int64_t weightBytes(Value value) {
  auto type = dyn_cast<MemRefType>(value.getType());
  if (!type || !type.hasStaticShape())
    return 0;
  Value root = value;
  while (auto view = root.getDefiningOp<ViewLikeOpInterface>())
    root = view.getViewSource();
  auto arg = dyn_cast<BlockArgument>(root);
  auto func = arg ? dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp())
                  : nullptr;
  if (!func || !arg.getOwner()->isEntryBlock())
    return 0;
  auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kNameAttrName);
  if (!func.getArgAttr(arg.getArgNumber(), kWeightAttrName) &&
      !(name && name.getValue() == "weights"))
    return 0;
  return type.getNumElements() * type.getElementTypeBitWidth() / 8;
}

/// Whether index `value` depends on data read from memory (an expert id, a
/// token id), not only on loop variables and constants.
bool dependsOnData(Value value, int depth = 0) {
  Operation *def = value.getDefiningOp();
  if (!def || depth > 16)
    return false;
  if (isa<memref::LoadOp, vector::LoadOp, vector::TransferReadOp,
          vector::ExtractOp>(def))
    return true;
  return llvm::any_of(def->getOperands(), [&](Value operand) {
    return dependsOnData(operand, depth + 1);
  });
}

/// Whether `kernel` reads `memref` (or a view of it) at data-dependent
/// indices: a gather (the embedding's rows, the selected experts), whose
/// bytes read are not the buffer's.
bool gathers(Value memref, Operation *kernel) {
  for (OpOperand &use : memref.getUses()) {
    Operation *user = use.getOwner();
    if (!kernel->isAncestor(user) && user != kernel) {
      if (auto view = dyn_cast<ViewLikeOpInterface>(user);
          view && view.getViewSource() == memref &&
          gathers(view->getResult(0), kernel))
        return true;
      continue;
    }
    if (auto view = dyn_cast<ViewLikeOpInterface>(user);
        view && view.getViewSource() == memref) {
      if (llvm::any_of(user->getOperands().drop_front(),
                       [](Value v) { return dependsOnData(v); }) ||
          gathers(view->getResult(0), kernel))
        return true;
      continue;
    }
    if (isa<memref::LoadOp, vector::LoadOp, vector::TransferReadOp>(user) &&
        llvm::any_of(user->getOperands(), [&](Value v) {
          return v != memref && v.getType().isIndex() && dependsOnData(v);
        }))
      return true;
  }
  return false;
}

/// One kernel function and the calls of it. Kernels with the same body
/// (a layer's norm and its post-attention norm, the experts of both layer
/// kinds, a token loop in prefill and in decode_batch) share one function:
/// LLVM optimizes and compiles it once. Each call keeps the name its kernel
/// would have had alone, `<layer>.<what>.<entry>` (its site), for the
/// profile; the function is named by what its sites have in common.
struct Kernel {
  func::FuncOp callee;
  SmallVector<func::CallOp> calls;
  SmallVector<std::string> sites;
  /// The distinct layers, whats and entries of its sites, in order.
  SmallVector<std::string> layers, whats, entries;

  void addSite(StringRef site, StringRef layer, StringRef what, StringRef entry) {
    sites.push_back(site.str());
    for (auto [list, part] : {std::pair{&layers, layer}, std::pair{&whats, what},
                              std::pair{&entries, entry}})
      if (!llvm::is_contained(*list, part))
        list->push_back(part.str());
  }

  /// Its sites' name if it has one site; otherwise each part lists its
  /// sites' values joined by ',' (at most four, then "..."):
  /// `deltanet,attention.experts.gate_proj+experts.up_proj+
  /// experts.down_proj.prefill,decode_batch`. (Not every combination of
  /// the parts' values need be a site.)
  std::string name() const {
    if (sites.size() == 1)
      return sites.front();
    return joined(layers) + "." + joined(whats) + "." + joined(entries);
  }

  /// `values` joined by ',', at most kMaxSources of them, then "...".
  static std::string joined(ArrayRef<std::string> values) {
    if (values.size() <= kMaxSources)
      return llvm::join(values, ",");
    SmallVector<std::string> first(values.take_front(kMaxSources));
    first.push_back("...");
    return llvm::join(first, ",");
  }
};

struct OutlineKernelsPass
    : mlir::qnext::impl::OutlineKernelsBase<OutlineKernelsPass> {
  using OutlineKernelsBase::OutlineKernelsBase;

  /// The kernel functions made so far, in order.
  std::vector<Kernel> kernels;
  /// The sites' names given so far.
  llvm::StringSet<> siteNames;

  /// The profile's table: one entry per kernel site and per layer function
  /// called.
  SmallVector<std::string> names;
  /// Per entry: the bytes of weights a call reads whole, and the size of
  /// those it gathers rows of (it reads a part).
  SmallVector<int64_t> bytes, gatheredBytes;
  llvm::StringMap<int32_t> ids;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    kernels.clear();
    siteNames.clear();
    names.clear();
    bytes.clear();
    gatheredBytes.clear();
    ids.clear();
    SymbolTable symbols(module);
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (func.isExternal())
        continue;
      for (Operation &op : llvm::make_early_inc_range(func.getBody().front()))
        if (isKernel(&op))
          outline(symbols, func, &op);
    }
    nameKernels(symbols);
    if (!profile)
      return;
    // Layer calls, bracketed like the kernels' (the time of a layer not in
    // its kernels is its serial code).
    module.walk([&](func::CallOp call) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (callee && callee->hasAttr(kLayerAttrName))
        bracket(call, idOf(call.getCallee(), 0, 0));
    });
    emitTable(module);
  }

  int32_t idOf(StringRef name, int64_t weightBytes, int64_t gathered) {
    auto [it, inserted] = ids.try_emplace(name, names.size());
    if (inserted) {
      names.push_back(name.str());
      bytes.push_back(weightBytes);
      gatheredBytes.push_back(gathered);
    }
    return it->second;
  }

  void outline(SymbolTable &symbols, func::FuncOp func, Operation *kernel) {
    // Arguments: what the kernel reads from outside it, in order of first
    // use; the constants among them are cloned in (static shapes stay
    // static). Results: the kernel's.
    llvm::SetVector<Value> reads(kernel->getOperands().begin(),
                                 kernel->getOperands().end());
    getUsedValuesDefinedAbove(kernel->getRegions(), reads);
    SmallVector<Value> args;
    SmallVector<Operation *> constants;
    for (Value v : reads) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>()) {
        if (!llvm::is_contained(constants, def))
          constants.push_back(def);
      } else {
        args.push_back(v);
      }
    }
    OpBuilder b(func.getContext());
    Location loc = kernel->getLoc();
    auto type = b.getFunctionType(ValueRange(args).getTypes(),
                                  kernel->getResultTypes());
    // The site's name; the second kernel of a name is "<name>.2", and so on.
    std::string layer = layerOf(func), what = whatOf(kernel),
                entry = entryOf(func);
    std::string base = layer + "." + what + "." + entry;
    std::string site = base;
    for (int n = 2; siteNames.contains(site) || symbols.lookup(site); ++n)
      site = base + "." + std::to_string(n);
    siteNames.insert(site);

    // Named when all kernels are made (nameKernels).
    auto callee = func::FuncOp::create(b, loc, "qnext.kernel", type);
    callee.setPrivate();
    // Kept a function of its own: its name is the point.
    callee->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
    Block *entryBlock = callee.addEntryBlock();
    b.setInsertionPointToStart(entryBlock);
    IRMapping mapping;
    mapping.map(args, entryBlock->getArguments());
    for (Operation *c : constants)
      b.clone(*c, mapping);
    Operation *copy = b.clone(*kernel, mapping);
    func::ReturnOp::create(b, loc, copy->getResults());

    // An earlier kernel with the same body serves this one too.
    Kernel *target = nullptr;
    for (Kernel &k : kernels)
      if (k.callee.getFunctionType() == type &&
          OperationEquivalence::isRegionEquivalentTo(
              &k.callee.getBody(), &callee.getBody(),
              OperationEquivalence::IgnoreLocations)) {
        target = &k;
        break;
      }
    if (target) {
      callee.erase();
      ++kernelsShared;
    } else {
      symbols.insert(callee, Block::iterator(func));
      target = &kernels.emplace_back();
      target->callee = callee;
    }
    target->addSite(site, layer, what, entry);

    // The weight bytes it reads per call, for the profile: whole, and the
    // size of the buffers it gathers rows of (it reads a part of each).
    int64_t read = 0, gathered = 0;
    for (Value arg : args)
      if (int64_t size = weightBytes(arg))
        (gathers(arg, kernel) ? gathered : read) += size;

    b.setInsertionPoint(kernel);
    auto call = func::CallOp::create(b, loc, target->callee, args);
    target->calls.push_back(call);
    kernel->replaceAllUsesWith(call.getResults());
    kernel->erase();
    ++kernelsOutlined;
    if (profile)
      bracket(call, idOf(site, read, gathered));
  }

  /// Each kernel function's name (Kernel::name), made unique by ".2", ".3",
  /// ...; a function of one site keeps that site's name. A shared function's
  /// name is no other function's site's name, so that a symbol perf shows
  /// and a name --profile prints never mean different code.
  void nameKernels(SymbolTable &symbols) {
    llvm::StringSet<> taken;
    for (Kernel &k : kernels)
      if (k.sites.size() == 1)
        taken.insert(k.sites.front());
    for (Kernel &k : kernels) {
      std::string name = k.name();
      if (k.sites.size() > 1) {
        auto othersSite = [&](StringRef n) {
          return siteNames.contains(n) && !llvm::is_contained(k.sites, n);
        };
        std::string base = name;
        for (int n = 2; taken.contains(name) || othersSite(name) || symbols.lookup(name);
             ++n)
          name = base + "." + std::to_string(n);
        taken.insert(name);
      }
      symbols.remove(k.callee);
      k.callee.setSymNameAttr(StringAttr::get(k.callee.getContext(), name));
      // Unique by construction; the calls name what the table holds.
      StringAttr given = symbols.insert(k.callee);
      for (func::CallOp call : k.calls)
        call.setCalleeAttr(FlatSymbolRefAttr::get(given));
    }
  }

  /// qnext_kernel_hook(id, 0) before `call`, (id, 1) after it, each only
  /// while the hook is set.
  void bracket(func::CallOp call, int32_t id) {
    OpBuilder b(call);
    callHook(b, call.getLoc(), id, 0);
    b.setInsertionPointAfter(call);
    callHook(b, call.getLoc(), id, 1);
  }

  void callHook(OpBuilder &b, Location loc, int32_t id, int32_t end) {
    auto ptr = LLVM::LLVMPointerType::get(b.getContext());
    Value address = LLVM::AddressOfOp::create(b, loc, ptr, kHook);
    Value hook = LLVM::LoadOp::create(b, loc, ptr, address);
    Value null = LLVM::ZeroOp::create(b, loc, ptr);
    Value set = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, hook, null);
    auto ifOp = scf::IfOp::create(b, loc, set, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    Value idValue = arith::ConstantIntOp::create(b, loc, id, 32);
    Value endValue = arith::ConstantIntOp::create(b, loc, end, 32);
    auto hookType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(b.getContext()), {b.getI32Type(), b.getI32Type()});
    LLVM::CallOp::create(b, loc, hookType, ValueRange{hook, idValue, endValue});
  }

  /// The hook pointer and the table, as globals of the object.
  void emitTable(ModuleOp module) {
    OpBuilder b(module.getBodyRegion());
    Location loc = module.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(b.getContext());
    auto hook = LLVM::GlobalOp::create(b, loc, ptr, /*isConstant=*/false,
                                       LLVM::Linkage::External, kHook,
                                       Attribute());
    Block *init = b.createBlock(&hook.getInitializerRegion());
    b.setInsertionPointToStart(init);
    LLVM::ReturnOp::create(b, loc, LLVM::ZeroOp::create(b, loc, ptr).getResult());
    b.setInsertionPointAfter(hook);

    LLVM::GlobalOp::create(b, loc, b.getI32Type(), /*isConstant=*/true,
                           LLVM::Linkage::External, "qnext_kernel_count",
                           b.getI32IntegerAttr(names.size()));
    std::string text;
    for (const std::string &name : names)
      text += name + '\0';
    LLVM::GlobalOp::create(
        b, loc, LLVM::LLVMArrayType::get(b.getI8Type(), text.size()),
        /*isConstant=*/true, LLVM::Linkage::External, "qnext_kernel_names",
        b.getStringAttr(text));
    auto bytesType = RankedTensorType::get({int64_t(bytes.size())}, b.getI64Type());
    LLVM::GlobalOp::create(
        b, loc, LLVM::LLVMArrayType::get(b.getI64Type(), bytes.size()),
        /*isConstant=*/true, LLVM::Linkage::External, "qnext_kernel_bytes",
        DenseElementsAttr::get(bytesType, ArrayRef<int64_t>(bytes)));
    LLVM::GlobalOp::create(
        b, loc, LLVM::LLVMArrayType::get(b.getI64Type(), gatheredBytes.size()),
        /*isConstant=*/true, LLVM::Linkage::External, "qnext_kernel_gathered_bytes",
        DenseElementsAttr::get(bytesType, ArrayRef<int64_t>(gatheredBytes)));
  }

  static constexpr llvm::StringLiteral kHook = "qnext_kernel_hook";
};

} // namespace
