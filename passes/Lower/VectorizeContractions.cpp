//===- VectorizeContractions.cpp - x * W^T as vector kernels --------------===//
//
// The contract is in passes/Passes.td. A projection is the bulk of every
// token's work and, for one token, pure weight streaming: the kernel keeps
// the accumulators in registers, reads each weight vector once per block of
// tokens and widens it with integer ops, so the loop runs at the speed the
// memory delivers weights.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_VECTORIZECONTRACTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using mlir::qnext::FusionKind;
using mlir::qnext::FusionKindAttr;
using mlir::qnext::kFusionAttrName;

namespace {

/// y = x * W^T as matched: `x` is [K] (one token) or [T, K], `w` is [N, K].
/// A gather contraction (one token's routed experts, qnext-lower-to-linalg's
/// gather form) has a `selector` [1, S] of expert ids, `w` stacked [E, N, K]
/// and y [1, S, N]: y[0, s, n] = sum_k x[k] * w[selector[0, s], n, k], with
/// x [1, K], or [1, S, K] (`perSlot`: one input row per slot).
struct Contraction {
  linalg::GenericOp op;
  Value x, w, init;
  bool multiToken;
  int64_t n, k; ///< n is ShapedType::kDynamic for a dynamic row count
  Value selector = {};
  int64_t slots = 0;
  bool perSlot = false;
};

/// A fused kernel's work: one contraction, or (with an epilogue) two of the
/// same input and shape whose results only a marked elementwise generic
/// reads, as its inputs 0 and 1; or one contraction whose input a marked
/// generic (the prologue) computes, possibly through a reshape that merges
/// its feature dimensions into K.
struct Kernel {
  Contraction c;
  std::optional<Contraction> second;
  linalg::GenericOp epilogue;
  linalg::GenericOp prologue;
  tensor::CollapseShapeOp collapse;
  /// A per-slot gather contraction's weighted sum over slots (the MoE's
  /// combine), computed in its kernel.
  linalg::GenericOp combine = {};
  /// With a combine: the shared expert added to it, also computed in the
  /// kernel (`shared = gate(down(h), logit)`, `sum = add(combine, shared)`).
  std::optional<Contraction> sharedDown = std::nullopt;
  linalg::GenericOp sharedGate = {}, sharedAdd = {};
};

/// `v` with any float extension stripped.
Value stripExt(Value v) {
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    return ext.getIn();
  return v;
}

/// A contraction's body, `yield out + x * ext(w)` (either operand order of
/// the add and of the mul), with `x` the block argument `xArg`: the value
/// the body multiplies x by, extension stripped (null if the body is not
/// that).
Value multipliedBy(linalg::GenericOp op, unsigned xArg) {
  Block &body = op.getRegion().front();
  auto addOp = cast<linalg::YieldOp>(body.getTerminator())
                   .getValues()[0]
                   .getDefiningOp<arith::AddFOp>();
  Value out = body.getArguments().back();
  if (!addOp || (addOp.getLhs() != out && addOp.getRhs() != out))
    return {};
  auto mulOp = (addOp.getLhs() == out ? addOp.getRhs() : addOp.getLhs())
                   .getDefiningOp<arith::MulFOp>();
  Value xv = body.getArgument(xArg);
  if (!mulOp || (mulOp.getLhs() != xv && mulOp.getRhs() != xv))
    return {};
  Value other = mulOp.getLhs() == xv ? mulOp.getRhs() : mulOp.getLhs();
  return other == xv ? Value() : stripExt(other);
}

/// The weight types a kernel widens: f32, bf16, f16.
bool isWeightElement(Type t) { return t.isF32() || t.isBF16() || t.isF16(); }

/// The gather contraction of one token (see Contraction):
///   (t, s, n, k): x (t, k) or (t, s, k), selector (t, s) -> y (t, s, n)
///   yield y + x * ext(tensor.extract w[index_cast(selector), n, k])
/// with t of extent 1.
std::optional<Contraction> matchGather(linalg::GenericOp op) {
  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map = [&](ArrayRef<AffineExpr> results) {
    return AffineMap::get(4, 0, results, ctx);
  };
  using utils::IteratorType;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (op.getIteratorTypesArray() !=
          SmallVector<IteratorType>{IteratorType::parallel, IteratorType::parallel,
                                    IteratorType::parallel, IteratorType::reduction} ||
      maps[1] != map({d(0), d(1)}) || maps[2] != map({d(0), d(1), d(2)}))
    return std::nullopt;
  Contraction c{op, op.getDpsInputs()[0], {}, op.getDpsInits()[0], false, 0, 0};
  c.selector = op.getDpsInputs()[1];
  if (maps[0] == map({d(0), d(1), d(3)}))
    c.perSlot = true;
  else if (maps[0] != map({d(0), d(3)}))
    return std::nullopt;

  // Body: yield out + x * ext(extract w[index_cast(sel), index 2, index 3]).
  Block &body = op.getRegion().front();
  Value product = multipliedBy(op, 0);
  auto extract = product ? product.getDefiningOp<tensor::ExtractOp>()
                         : tensor::ExtractOp();
  if (!extract || extract.getIndices().size() != 3 ||
      extract.getTensor().getParentRegion() == &op.getRegion())
    return std::nullopt;
  auto toIndex = extract.getIndices()[0].getDefiningOp<arith::IndexCastOp>();
  auto n = extract.getIndices()[1].getDefiningOp<linalg::IndexOp>();
  auto k = extract.getIndices()[2].getDefiningOp<linalg::IndexOp>();
  if (!toIndex || toIndex.getIn() != body.getArgument(1) || !n || n.getDim() != 2 ||
      !k || k.getDim() != 3)
    return std::nullopt;
  c.w = extract.getTensor();

  auto xType = dyn_cast<RankedTensorType>(c.x.getType());
  auto wType = llvm::cast<RankedTensorType>(c.w.getType());
  auto yType = llvm::cast<RankedTensorType>(c.init.getType());
  Type wElt = wType.getElementType();
  if (!xType || !xType.getElementType().isF32() ||
      !yType.getElementType().isF32() || !yType.hasStaticShape() ||
      yType.getDimSize(0) != 1 || !wType.hasStaticShape() || !isWeightElement(wElt))
    return std::nullopt;
  c.slots = yType.getDimSize(1);
  c.n = wType.getDimSize(1);
  c.k = wType.getDimSize(2);
  if (yType.getDimSize(2) != c.n || xType.getShape().back() != c.k)
    return std::nullopt;
  return c;
}

/// The projection contractions of qnext-lower-to-linalg:
///   y[n]    += ext(W[n, k]) * x[k]      (d0, d1) (d1) -> (d0)
///   y[t, n] += x[t, k] * ext(W[n, k])   (d0, d2) (d1, d2) -> (d0, d1)
/// with f32 activations and an f32/f16/bf16 weight.
std::optional<Contraction> match(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics())
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map = [&](unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, ctx);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  using utils::IteratorType;
  Contraction c{op, {}, {}, op.getDpsInits()[0], false, 0, 0};
  unsigned xArg, wArg;
  if (iters == SmallVector<IteratorType>{IteratorType::parallel,
                                         IteratorType::reduction} &&
      maps == SmallVector<AffineMap>{map(2, {d(0), d(1)}), map(2, {d(1)}),
                                     map(2, {d(0)})}) {
    wArg = 0, xArg = 1;
  } else if (iters == SmallVector<IteratorType>{IteratorType::parallel,
                                                IteratorType::parallel,
                                                IteratorType::reduction} &&
             maps == SmallVector<AffineMap>{map(3, {d(0), d(2)}),
                                            map(3, {d(1), d(2)}),
                                            map(3, {d(0), d(1)})}) {
    xArg = 0, wArg = 1, c.multiToken = true;
  } else if (iters.size() == 4) {
    return matchGather(op);
  } else {
    return std::nullopt;
  }
  c.x = op.getDpsInputs()[xArg];
  c.w = op.getDpsInputs()[wArg];

  // Body: yield out + x * ext(w) (either operand order).
  if (multipliedBy(op, xArg) != op.getRegion().front().getArgument(wArg))
    return std::nullopt;

  auto xType = cast<RankedTensorType>(c.x.getType());
  auto wType = cast<RankedTensorType>(c.w.getType());
  auto yType = cast<RankedTensorType>(c.init.getType());
  Type wElt = wType.getElementType();
  if (!xType.getElementType().isF32() || !yType.getElementType().isF32() ||
      !isWeightElement(wElt) || wType.isDynamicDim(1))
    return std::nullopt;
  c.n = wType.getDimSize(0);
  c.k = wType.getDimSize(1);
  return c;
}

/// Whether `init` is a linalg.fill of +0.0 (an init that adds nothing).
bool isZeroFill(Value init) {
  auto fill = init.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  auto cst = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto f = cst ? dyn_cast<FloatAttr>(cst.getValue()) : FloatAttr();
  return f && f.getValue().isPosZero();
}

/// An op the epilogue can apply to whole rows: a scalar constant or an
/// elementwise op on scalars, with no regions.
bool isRowwise(Operation &op) {
  if (auto cst = dyn_cast<arith::ConstantOp>(op))
    return isa<FloatAttr, IntegerAttr>(cst.getValue());
  return op.hasTrait<OpTrait::Elementwise>() && op.getNumRegions() == 0 &&
         llvm::all_of(op.getResultTypes(), [](Type t) { return t.isIntOrFloat(); });
}

/// An elementwise generic with two inputs and identity output, row-wise
/// body, that does not read its output.
bool isElementwisePair(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics() ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return false;
  Block &body = op.getRegion().front();
  return body.getArguments().back().use_empty() &&
         llvm::all_of(body.without_terminator(), isRowwise);
}

/// A generic a fusion group was lowered to (`qnext.fusion`: a swiglu or moe
/// group), elementwise over the results of
/// two contractions that nothing else reads: one kernel computes both and
/// applies the generic's body to their rows (qnext-fuse-swiglu's silu * mul).
std::optional<Kernel> matchEpilogue(linalg::GenericOp e) {
  if (!e->hasAttr(kFusionAttrName) || !isElementwisePair(e) ||
      !llvm::all_of(e.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return std::nullopt;
  std::optional<Contraction> cs[2];
  for (int i = 0; i < 2; ++i) {
    auto producer = e.getDpsInputs()[i].getDefiningOp<linalg::GenericOp>();
    if (!producer || !producer->hasAttr(kFusionAttrName) || !producer->hasOneUse())
      return std::nullopt;
    cs[i] = match(producer);
    if (!cs[i] || !isZeroFill(cs[i]->init))
      return std::nullopt;
  }
  if (cs[0]->op == cs[1]->op || cs[0]->x != cs[1]->x ||
      cs[0]->selector != cs[1]->selector ||
      cs[0]->w.getType() != cs[1]->w.getType() ||
      ShapedType::isDynamic(cs[0]->n) ||
      cs[0]->op.getResult(0).getType() != e.getResult(0).getType())
    return std::nullopt;
  return Kernel{*cs[0], cs[1], e, {}, {}};
}

/// y[t, n] = sum_s w[t, s] * d[t, s, n] over a per-slot gather contraction
/// d that nothing else reads, y starting from zero: the routed experts'
/// weighted combine (qnext-lower-to-linalg's gather form).
std::optional<Kernel> matchCombine(linalg::GenericOp op) {
  using utils::IteratorType;
  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map = [&](ArrayRef<AffineExpr> results) {
    return AffineMap::get(3, 0, results, ctx);
  };
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics() || !isZeroFill(op.getDpsInits()[0]) ||
      op.getIteratorTypesArray() !=
          SmallVector<IteratorType>{IteratorType::parallel, IteratorType::parallel,
                                    IteratorType::reduction} ||
      op.getIndexingMapsArray() !=
          SmallVector<AffineMap>{map({d(0), d(2), d(1)}), map({d(0), d(2)}),
                                 map({d(0), d(1)})})
    return std::nullopt;
  Block &body = op.getRegion().front();
  auto add = cast<linalg::YieldOp>(body.getTerminator())
                 .getValues()[0]
                 .getDefiningOp<arith::AddFOp>();
  auto mul = add ? add.getRhs().getDefiningOp<arith::MulFOp>() : arith::MulFOp();
  if (!add || add.getLhs() != body.getArgument(2) || !mul ||
      mul.getLhs() != body.getArgument(1) || mul.getRhs() != body.getArgument(0))
    return std::nullopt;
  auto producer = op.getDpsInputs()[0].getDefiningOp<linalg::GenericOp>();
  if (!producer || !producer->hasOneUse())
    return std::nullopt;
  std::optional<Contraction> c = matchGather(producer);
  if (!c || !c->perSlot || !isZeroFill(c->init))
    return std::nullopt;
  Kernel k{*c, std::nullopt, {}, {}, {}};
  k.combine = op;
  return k;
}

/// The MoE's shared expert, added to a combine `k`: the combine's result is
/// read only by an elementwise `sum = add(combine, shared)` (either order),
/// with `shared = gate(down, logit)` elementwise (`down` the one-token
/// contraction h_s * W_down^T of the same rows, read by the gate alone;
/// `logit` [1, 1], broadcast) and read by the add alone. The kernel then
/// computes `down`'s rows of each block after the slots and applies both
/// bodies in registers: the shared expert's down projection, its sigmoid
/// gate and the sum are in the combine's epilogue.
void matchSharedExpert(Kernel &k, int64_t vl) {
  // The add may also take the combine's result as its init (in place).
  Value routed = k.combine.getResult(0);
  if (routed.use_empty())
    return;
  auto add = dyn_cast<linalg::GenericOp>(*routed.getUsers().begin());
  if (!add || !llvm::all_of(routed.getUsers(), [&](Operation *u) { return u == add; }) ||
      !isElementwisePair(add) ||
      !llvm::all_of(add.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return;
  Value other = add.getDpsInputs()[add.getDpsInputs()[0] == routed ? 1 : 0];
  auto gate = other.getDefiningOp<linalg::GenericOp>();
  if (other == routed || !gate || !other.hasOneUse() || !isElementwisePair(gate) ||
      !gate.getIndexingMapsArray()[0].isIdentity())
    return;
  auto logitType = cast<RankedTensorType>(gate.getDpsInputs()[1].getType());
  auto down = gate.getDpsInputs()[0].getDefiningOp<linalg::GenericOp>();
  if (logitType.getShape() != ArrayRef<int64_t>{1, 1} || !down ||
      !down->hasOneUse())
    return;
  std::optional<Contraction> d = match(down);
  if (!d || !d->multiToken || !isZeroFill(d->init) || d->n != k.c.n ||
      d->k % vl != 0 ||
      cast<RankedTensorType>(d->x.getType()).getShape() !=
          ArrayRef<int64_t>{1, d->k} ||
      add.getResult(0).getType() != routed.getType())
    return;
  k.sharedDown = d;
  k.sharedGate = gate;
  k.sharedAdd = add;
}

/// The groups whose tagged generic a contraction computes as its prologue
/// (qnext-fuse-norm-linear, qnext-fuse-gate-linear).
bool isPrologueMark(Attribute mark) {
  auto kind = dyn_cast_or_null<FusionKindAttr>(mark);
  return kind && (kind.getValue() == FusionKind::NormLinear ||
                  kind.getValue() == FusionKind::GateLinear);
}

/// `c` with its input computed in the kernel: c.x is the result (or the
/// reshape, feature dimensions merged into K) of a generic with a prologue
/// mark that nothing else reads. The generic is elementwise with broadcasts:
/// every input map takes dimensions in order, so a vector along K reads each
/// input contiguously or as one scalar.
std::optional<Kernel> matchPrologue(const Contraction &c, int64_t vl) {
  if (ShapedType::isDynamic(c.n))
    return std::nullopt;
  Value x = c.x;
  auto collapse = x.getDefiningOp<tensor::CollapseShapeOp>();
  if (collapse) {
    if (!collapse->hasOneUse())
      return std::nullopt;
    x = collapse.getSrc();
  }
  auto p = x.getDefiningOp<linalg::GenericOp>();
  if (!p || !isPrologueMark(p->getAttr(kFusionAttrName)) || !p->hasOneUse() ||
      p.getNumDpsInits() != 1 || !p.hasPureTensorSemantics() ||
      p.getNumParallelLoops() != p.getNumLoops() ||
      !p.getMatchingIndexingMap(p.getDpsInitOperand(0)).isIdentity())
    return std::nullopt;
  Block &body = p.getRegion().front();
  if (!body.getArguments().back().use_empty() ||
      !llvm::all_of(body.without_terminator(), isRowwise))
    return std::nullopt;
  for (OpOperand *in : p.getDpsInputOperands()) {
    AffineMap m = p.getMatchingIndexingMap(in);
    if (!m.isProjectedPermutation(/*allowZeroInResults=*/false))
      return std::nullopt;
    for (unsigned i = 1; i < m.getNumResults(); ++i)
      if (m.getDimPosition(i) <= m.getDimPosition(i - 1))
        return std::nullopt;
  }
  // Leading token dimension (with several tokens), then the feature
  // dimensions K is made of; vectors must not cross the innermost one.
  auto type = cast<RankedTensorType>(x.getType());
  int64_t lead = c.multiToken ? 1 : 0;
  if (type.getRank() <= lead || type.getShape().back() % vl != 0 ||
      llvm::any_of(type.getShape().drop_front(lead), ShapedType::isDynamic))
    return std::nullopt;
  if (collapse) {
    SmallVector<ReassociationIndices> groups = collapse.getReassociationIndices();
    if (int64_t(groups.size()) != lead + 1 || (lead && groups[0].size() != 1))
      return std::nullopt;
  } else if (type.getRank() != lead + 1) {
    return std::nullopt;
  }
  return Kernel{c, std::nullopt, {}, p, collapse};
}

/// The largest of preferred, preferred-1, ..., 1 that divides n.
int64_t blockFor(int64_t n, int64_t preferred) {
  for (int64_t r = std::max<int64_t>(preferred, 1); r > 1; --r)
    if (n % r == 0)
      return r;
  return 1;
}

class KernelEmitter {
public:
  KernelEmitter(OpBuilder &b, Location loc, Kernel &kernel, int64_t vl)
      : b(b), loc(loc), c(kernel.c), kernel(kernel), vl(vl) {}

  /// Rewrites the kernel's ops; returns the replacement of its last one.
  Value emit(int64_t rows, int64_t tokenRows, int64_t tokenBlockRows,
             int64_t prologueTasks, int64_t tokenTile) {
    // A zero fill as the init contributes nothing: write into its
    // destination instead of adding it. An epilogue writes its own result.
    Value dest = c.init;
    bool addInit = true;
    if (kernel.epilogue) {
      dest = kernel.epilogue.getDpsInits()[0];
      addInit = false;
    } else if (isZeroFill(c.init)) {
      dest = c.init.getDefiningOp<linalg::FillOp>().getOutputs()[0];
      addInit = false;
    }
    // [1, K] (a decode step) is one token too: no token loop, the
    // one-token row block.
    bool oneRow = c.multiToken &&
                  cast<RankedTensorType>(c.x.getType()).getDimSize(0) == 1;
    // A dynamic row count (e.g. attention over the cached positions) takes
    // one row per block. Several tokens keep tokens x rows accumulators per
    // weight; a fused pair (two weights) takes half the rows, so that the
    // block still fits the registers it was sized for.
    int64_t pairRows = kernel.second ? std::max<int64_t>(tokenBlockRows / 2, 1)
                                     : tokenBlockRows;
    int64_t tn = ShapedType::isDynamic(c.n)
                     ? 1
                     : blockFor(c.n, c.multiToken && !oneRow ? pairRows : rows);
    // With a prologue, each task is a chunk of row blocks that computes the
    // prologue's rows once (per span of tokens) for all of them: about
    // `prologueTasks` tasks.
    int64_t chunk = tn;
    if (kernel.prologue)
      chunk = tn * blockFor(c.n / tn, std::max<int64_t>(c.n / tn / prologueTasks, 1));
    OpFoldResult blocks = ShapedType::isDynamic(c.n)
                              ? tensor::getMixedSize(b, loc, c.w, 0)
                              : OpFoldResult(b.getIndexAttr(c.n / chunk));
    OpBuilder::InsertionGuard guard(b);
    // Several tokens: the kernel runs on tiles of `tokenTile` tokens, one
    // after the other, so that a tile's inputs stay in cache while every
    // row block reads them (the weights are read once per tile).
    bool manyTokens = c.multiToken && !oneRow;
    scf::ForOp tiles;
    Value tokenLo, tokenHi;
    if (manyTokens) {
      Value t = tensor::DimOp::create(b, loc, dest, 0);
      tokenLo = index(0);
      tokenHi = t;
      if (tokenTile > 0) {
        tiles = scf::ForOp::create(b, loc, index(0), t, index(tokenTile),
                                   ValueRange{dest});
        b.setInsertionPointToStart(tiles.getBody());
        tokenLo = tiles.getInductionVar();
        tokenHi = arith::MinUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, tokenLo, index(tokenTile)), t);
        dest = tiles.getRegionIterArgs()[0];
      }
    }
    auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{blocks},
                                        ValueRange{dest}, std::nullopt);
    if (tiles)
      scf::YieldOp::create(b, loc, forall.getResults());
    b.setInsertionPoint(forall.getTerminator());
    Value n0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), index(chunk));
    Value shared = forall.getRegionIterArgs()[0];

    SmallVector<OpFoldResult> offsets, sizes, strides;
    if (c.multiToken) {
      offsets = {b.getIndexAttr(0), n0};
      // Tokens: the result's rows (a prologue's x goes away).
      sizes = {tensor::getMixedSize(b, loc, dest, 0), b.getIndexAttr(chunk)};
      strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
    } else {
      offsets = {n0};
      sizes = {b.getIndexAttr(chunk)};
      strides = {b.getIndexAttr(1)};
    }
    Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes, strides);
    if (!c.multiToken) {
      tile = tokenBlock(tile, addInit, {}, n0, tn, chunk);
    } else if (oneRow) {
      tile = tokenBlock(tile, addInit, {index(0)}, n0, tn, chunk);
    } else if (kernel.prologue) {
      tile = prologueSpans(tile, addInit, tokenLo, tokenHi,
                           std::max<int64_t>(tokenRows, 1), n0, tn, chunk,
                           tokenTile > 0 ? tokenTile : kPrologueSpan);
    } else {
      // The tokens [tokenLo, tokenHi) in blocks of tokenRows, the rest as
      // one smaller block.
      tile = tokenBlocks(tile, tokenLo, tokenHi, std::max<int64_t>(tokenRows, 1),
                         [&](Value t, ArrayRef<Value> tokens) {
                           return tokenBlock(t, addInit, tokens, n0, tn, chunk);
                         });
    }
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, loc, tile, shared, offsets, sizes,
                                          strides);
    return tiles ? tiles.getResult(0) : forall.getResult(0);
  }

private:
  /// Tokens whose prologue rows a task keeps at once when the kernel runs
  /// on all tokens (no token-tile).
  static constexpr int64_t kPrologueSpan = 64;
  /// A combine's rows below this length are short (see emitGatherCombine).
  static constexpr int64_t kShortRow = 1024;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// lo + (hi - lo) rounded down to a multiple of tm: where the blocks of tm
  /// tokens end and the tokens taken one by one begin.
  Value fullBlocksEnd(Value lo, Value hi, int64_t tm) {
    Value span = arith::SubIOp::create(b, loc, hi, lo);
    return arith::AddIOp::create(
        b, loc, lo,
        arith::MulIOp::create(
            b, loc, arith::DivUIOp::create(b, loc, span, index(tm)), index(tm)));
  }

  /// Tokens [lo, hi) in blocks of tm (an scf.for), then the 0 to tm - 1
  /// left as one block of their count (an scf.index_switch on it), so that
  /// every token block reads its weights once. `emitBlock` computes one
  /// block of the given tokens into a tile.
  Value tokenBlocks(Value tile, Value lo, Value hi, int64_t tm,
                    function_ref<Value(Value, ArrayRef<Value>)> emitBlock) {
    auto tokensFrom = [&](Value t0, int64_t count) {
      SmallVector<Value> tokens = {t0};
      for (int64_t j = 1; j < count; ++j)
        tokens.push_back(arith::AddIOp::create(b, loc, t0, index(j)));
      return tokens;
    };
    Value full = fullBlocksEnd(lo, hi, tm);
    auto loop = scf::ForOp::create(
        b, loc, lo, full, index(tm), ValueRange{tile},
        [&](OpBuilder &, Location, Value t0, ValueRange iter) {
          scf::YieldOp::create(b, loc, emitBlock(iter[0], tokensFrom(t0, tm)));
        });
    tile = loop.getResult(0);
    if (tm == 1)
      return tile;
    SmallVector<int64_t> counts = llvm::to_vector(llvm::seq<int64_t>(1, tm));
    Value left = arith::SubIOp::create(b, loc, hi, full);
    auto rest = scf::IndexSwitchOp::create(b, loc, TypeRange{tile.getType()}, left,
                                           counts, counts.size());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&rest.getDefaultRegion().emplaceBlock());
    scf::YieldOp::create(b, loc, tile);
    for (auto [count, region] : llvm::zip(counts, rest.getCaseRegions())) {
      b.setInsertionPointToStart(&region.emplaceBlock());
      scf::YieldOp::create(b, loc, emitBlock(tile, tokensFrom(full, count)));
    }
    return rest.getResult(0);
  }

  /// Several tokens with a prologue. For each span of `span` tokens of
  /// [lo, hi), the task computes the prologue's rows of the span once, then
  /// each block of tn weight rows of its chunk runs over the whole span
  /// (tm tokens at a time, then the rest as one block): a block's weights
  /// stay in cache while the tokens stream. (Tokens outside the row blocks
  /// would read the chunk's weights again for every block of tokens.)
  Value prologueSpans(Value tile, bool addInit, Value lo, Value hi, int64_t tm,
                      Value n0, int64_t tn, int64_t chunk, int64_t span) {
    auto spans = scf::ForOp::create(
        b, loc, lo, hi, index(span), ValueRange{tile},
        [&](OpBuilder &, Location, Value s0, ValueRange outer) {
          Value s1 = arith::MinUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, s0, index(span)), hi);
          Value xs = prologueSpan(s0, s1);
          auto rowBlocks = scf::ForOp::create(
              b, loc, index(0), index(chunk), index(tn), ValueRange{outer[0]},
              [&](OpBuilder &, Location, Value r, ValueRange iter) {
                Value rows = arith::AddIOp::create(b, loc, n0, r);
                scf::YieldOp::create(
                    b, loc,
                    tokenBlocks(iter[0], s0, s1, tm,
                                [&](Value t, ArrayRef<Value> tokens) {
                                  SmallVector<Value> local;
                                  for (Value token : tokens)
                                    local.push_back(
                                        arith::SubIOp::create(b, loc, token, s0));
                                  return block(t, addInit, xs, local, tokens, rows,
                                               tn, r);
                                }));
              });
          scf::YieldOp::create(b, loc, rowBlocks.getResults());
        });
    return spans.getResult(0);
  }

  /// The prologue's rows of tokens [lo, hi) ([hi - lo, K]), token by token,
  /// each written straight into its row.
  Value prologueSpan(Value lo, Value hi) {
    Value count = arith::SubIOp::create(b, loc, hi, lo);
    Value buf = tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{count, b.getIndexAttr(c.k)}, b.getF32Type());
    auto loop = scf::ForOp::create(
        b, loc, lo, hi, index(1), ValueRange{buf},
        [&](OpBuilder &, Location, Value t, ValueRange iter) {
          Value at = arith::SubIOp::create(b, loc, t, lo);
          scf::YieldOp::create(b, loc, prologueRows({t}, iter[0], at));
        });
    return loop.getResult(0);
  }

  /// A generic's scalar body applied to vectors of `lanes`: its arguments
  /// are `args`, each scalar op becomes the same op on vectors, a scalar
  /// constant or a value from outside the body a splat of it.
  Value applyBody(linalg::GenericOp generic, ValueRange args, int64_t lanes) {
    Block &body = generic.getRegion().front();
    IRMapping map;
    for (auto [blockArg, arg] : llvm::zip(body.getArguments(), args))
      map.map(blockArg, arg);
    auto vectorOf = [&](Type t) { return VectorType::get({lanes}, t); };
    for (Operation &op : body.without_terminator()) {
      if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
        auto splat = DenseElementsAttr::get(vectorOf(cst.getType()),
                                            cst.getValue());
        map.map(cst.getResult(), arith::ConstantOp::create(b, loc, splat));
        continue;
      }
      for (Value operand : op.getOperands())
        if (!map.contains(operand))
          map.map(operand, vector::BroadcastOp::create(
                               b, loc, vectorOf(operand.getType()), operand));
      Operation *row = b.clone(op, map);
      for (OpResult result : row->getResults())
        result.setType(vectorOf(result.getType()));
    }
    return map.lookup(body.getTerminator()->getOperand(0));
  }

  /// `tokens` (none: the one token of a rank-1 input) x the `chunk` weight
  /// rows from n0, in blocks of tn rows, into `tile` (the [T, chunk] or
  /// [chunk] window of the result at column n0). With a prologue its rows
  /// for these tokens are computed first and every block reads them.
  Value tokenBlock(Value tile, bool addInit, ArrayRef<Value> tokens, Value n0,
                   int64_t tn, int64_t chunk) {
    Value xs = c.x;
    SmallVector<Value> xTokens(tokens.begin(), tokens.end());
    if (kernel.prologue) {
      xs = prologueRows(tokens);
      for (auto [j, t] : llvm::enumerate(xTokens))
        t = index(j);
    }
    if (chunk == tn)
      return block(tile, addInit, xs, xTokens, tokens, n0, tn, index(0));
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(chunk), index(tn), ValueRange{tile},
        [&](OpBuilder &, Location, Value r, ValueRange iter) {
          Value rows = arith::AddIOp::create(b, loc, n0, r);
          scf::YieldOp::create(
              b, loc, block(iter[0], addInit, xs, xTokens, tokens, rows, tn, r));
        });
    return loop.getResult(0);
  }

  /// The prologue generic's rows for `tokens` ([tm, K], or [K] for a rank-1
  /// input), computed a vector along K at a time: each input read at the
  /// prologue's indices of (token, k), contiguously when its map has the
  /// innermost dimension and as a splat otherwise. Written into a new
  /// buffer, or into `into` from its row `firstRow` on.
  Value prologueRows(ArrayRef<Value> tokens, Value into = {}, Value firstRow = {}) {
    linalg::GenericOp p = kernel.prologue;
    Type f32 = b.getF32Type();
    ArrayRef<int64_t> shape = cast<RankedTensorType>(p.getResult(0).getType()).getShape();
    ArrayRef<int64_t> features = shape.drop_front(tokens.empty() ? 0 : 1);
    Value buf = into;
    if (!buf) {
      SmallVector<int64_t> bufShape;
      if (!tokens.empty())
        bufShape.push_back(int64_t(tokens.size()));
      bufShape.push_back(c.k);
      buf = tensor::EmptyOp::create(b, loc, bufShape, f32);
    }
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(c.k), index(vl), ValueRange{buf},
        [&](OpBuilder &, Location, Value k, ValueRange iter) {
          // k -> the feature indices, innermost last.
          SmallVector<Value> featureIdx(features.size());
          Value rest = k;
          for (size_t f = features.size(); f-- > 1;) {
            featureIdx[f] = arith::RemUIOp::create(b, loc, rest, index(features[f]));
            rest = arith::DivUIOp::create(b, loc, rest, index(features[f]));
          }
          featureIdx[0] = rest;
          Value out = iter[0];
          for (size_t j = 0; j < std::max<size_t>(tokens.size(), 1); ++j) {
            SmallVector<Value> at;
            if (!tokens.empty())
              at.push_back(tokens[j]);
            at.append(featureIdx);
            SmallVector<Value> args;
            for (OpOperand *in : p.getDpsInputOperands()) {
              AffineMap m = p.getMatchingIndexingMap(in);
              SmallVector<Value> idx;
              for (unsigned i = 0; i < m.getNumResults(); ++i)
                idx.push_back(at[m.getDimPosition(i)]);
              Type elt = getElementTypeOrSelf(in->get().getType());
              if (m.getNumResults() && m.getDimPosition(m.getNumResults() - 1) ==
                                            m.getNumDims() - 1)
                args.push_back(read(in->get(), idx, elt));
              else
                args.push_back(vector::BroadcastOp::create(
                    b, loc, VectorType::get({vl}, elt),
                    tensor::ExtractOp::create(b, loc, in->get(), idx)));
            }
            Value v = applyBody(p, args, vl);
            SmallVector<Value> outIdx = {k};
            if (!tokens.empty())
              outIdx.insert(outIdx.begin(),
                            firstRow ? arith::AddIOp::create(b, loc, firstRow, index(j))
                                           .getResult()
                                     : index(j));
            out = vector::TransferWriteOp::create(b, loc, v, out, outIdx,
                                                  ArrayRef<bool>{true})
                      .getResult();
          }
          scf::YieldOp::create(b, loc, out);
        });
    return loop.getResult(0);
  }

  /// A vector<vl> of weights widened exactly to f32 (bf16 is the high half
  /// of an f32: zero-extend and shift).
  Value widen(Value v) {
    auto vt = cast<VectorType>(v.getType());
    Type elt = vt.getElementType();
    auto f32v = VectorType::get(vt.getShape(), b.getF32Type());
    if (elt.isF32())
      return v;
    if (!elt.isBF16())
      return arith::ExtFOp::create(b, loc, f32v, v);
    auto i16v = VectorType::get(vt.getShape(), b.getI16Type());
    auto i32v = VectorType::get(vt.getShape(), b.getI32Type());
    Value bits = arith::BitcastOp::create(b, loc, i16v, v);
    Value wide = arith::ExtUIOp::create(b, loc, i32v, bits);
    Value sixteen = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(i32v, b.getI32IntegerAttr(16).getValue()));
    Value shifted = arith::ShLIOp::create(b, loc, wide, sixteen);
    return arith::BitcastOp::create(b, loc, f32v, shifted);
  }

  Value read(Value source, ValueRange indices, Type elt) {
    auto type = VectorType::get({vl}, elt);
    Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
    return vector::TransferReadOp::create(b, loc, type, source, indices, pad,
                                          ArrayRef<bool>{true});
  }

  /// One register block: the input rows `xTokens` of `xs` (none: rank 1)
  /// x weight rows [n0, n0 + tn), written to rows `outTokens` of `tile` at
  /// column `col`.
  Value block(Value tile, bool addInit, Value xs, ArrayRef<Value> xTokens,
              ArrayRef<Value> outTokens, Value n0, int64_t tn, Value col,
              ArrayRef<Value> outPrefix = {}) {
    SmallVector<Value> rowsOut =
        blockRows(xs, xTokens, std::max<int64_t>(outTokens.size(), 1), n0, tn);
    auto rowType = VectorType::get({tn}, b.getF32Type());
    for (auto [j, row] : llvm::enumerate(rowsOut)) {
      SmallVector<Value> outIdx(outPrefix.begin(), outPrefix.end());
      if (!outTokens.empty())
        outIdx.push_back(outTokens[j]);
      outIdx.push_back(col);
      if (addInit) {
        // The window still holds the init's values (it is a slice of them).
        Value pad = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        Value prior = vector::TransferReadOp::create(b, loc, rowType, tile, outIdx,
                                                     pad, ArrayRef<bool>{true});
        row = arith::AddFOp::create(b, loc, row, prior);
      }
      tile = vector::TransferWriteOp::create(b, loc, row, tile, outIdx,
                                             ArrayRef<bool>{true})
                 .getResult();
    }
    return tile;
  }

  /// The sums of one register block, a vector<tn> per token (tm of them):
  /// the input rows `xTokens` of `xs` (none: rank 1) x weight rows
  /// [n0, n0 + tn) of each of `weights` (the contraction's, or the slices of
  /// a gather's), with the epilogue's body applied.
  SmallVector<Value> blockRows(Value xs, ArrayRef<Value> xTokens, int64_t tm,
                               Value n0, int64_t tn, int64_t kExtent = 0) {
    if (kExtent == 0)
      kExtent = c.k;
    Type f32 = b.getF32Type();
    auto accType = VectorType::get({vl}, f32);
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0).getValue()));
    // The weights read: one contraction's, or both of a fused pair's
    // (accumulators [weight][token][row]).
    SmallVector<Value> weights = blockWeights;
    if (weights.empty()) {
      weights.push_back(c.w);
      if (kernel.second)
        weights.push_back(kernel.second->w);
    }
    Type wElt = cast<ShapedType>(weights[0].getType()).getElementType();
    auto tokenInput = [&](int64_t j, Value k) {
      return xTokens.empty() ? read(xs, {k}, f32) : read(xs, {xTokens[j], k}, f32);
    };
    auto rowType = VectorType::get({tn}, f32);
    if (tm == 1) {
      // One token: nothing to reuse a weight vector for, so the block runs
      // its rows one after the other (an scf.for over them), each with its
      // own K loop and horizontal sum: the block's weights are read in
      // memory order. (Interleaving the rows' loops reads tn streams of one
      // row each, which the hardware prefetchers follow badly when rows are
      // short.) Each accumulator sums the same products in the same order.
      Value zeroRow = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(rowType, b.getF32FloatAttr(0.0).getValue()));
      auto rowLoop = scf::ForOp::create(
          b, loc, index(0), index(tn), index(1),
          SmallVector<Value>(weights.size(), zeroRow),
          [&](OpBuilder &, Location, Value r, ValueRange rowsIn) {
            Value row = arith::AddIOp::create(b, loc, n0, r);
            SmallVector<Value> next;
            for (size_t m = 0; m < weights.size(); ++m) {
              auto kLoop = scf::ForOp::create(
                  b, loc, index(0), index(kExtent), index(vl), ValueRange{zero},
                  [&](OpBuilder &, Location, Value k, ValueRange a) {
                    Value w = widen(read(weights[m], {row, k}, wElt));
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{vector::FMAOp::create(b, loc, w, tokenInput(0, k),
                                                         a[0])});
                  });
              Value sum = vector::ReductionOp::create(
                  b, loc, vector::CombiningKind::ADD, kLoop.getResult(0),
                  arith::FastMathFlags::reassoc);
              next.push_back(vector::InsertOp::create(b, loc, sum, rowsIn[m],
                                                      ArrayRef<OpFoldResult>{r}));
            }
            scf::YieldOp::create(b, loc, next);
          });
      SmallVector<Value> rowsOut(rowLoop.getResults());
      return {kernel.epilogue ? applyBody(kernel.epilogue, rowsOut, tn) : rowsOut[0]};
    }

    // Several tokens: one K loop for the block, each weight vector loaded
    // once and used for every token.
    const int64_t perWeight = tm * tn;
    SmallVector<Value> rowsOfW;
    for (int64_t r = 0; r < tn; ++r)
      rowsOfW.push_back(r == 0 ? n0
                               : arith::AddIOp::create(b, loc, n0, index(r)).getResult());
    SmallVector<Value> zeros(weights.size() * perWeight, zero);
    auto kLoop = scf::ForOp::create(
        b, loc, index(0), index(kExtent), index(vl), zeros,
        [&](OpBuilder &, Location, Value k, ValueRange in) {
          SmallVector<Value> xv, next(in.begin(), in.end());
          for (int64_t j = 0; j < tm; ++j)
            xv.push_back(tokenInput(j, k));
          for (auto [m, weight] : llvm::enumerate(weights))
            for (int64_t r = 0; r < tn; ++r) {
              Value w = widen(read(weight, {rowsOfW[r], k}, wElt));
              for (int64_t j = 0; j < tm; ++j) {
                Value &a = next[m * perWeight + j * tn + r];
                a = vector::FMAOp::create(b, loc, w, xv[j], a);
              }
            }
          scf::YieldOp::create(b, loc, next);
        });

    SmallVector<Value> rows;
    for (int64_t j = 0; j < tm; ++j) {
      SmallVector<Value> rowsOut;
      for (size_t m = 0; m < weights.size(); ++m) {
        SmallVector<Value> sums;
        for (int64_t r = 0; r < tn; ++r)
          sums.push_back(vector::ReductionOp::create(
              b, loc, vector::CombiningKind::ADD,
              kLoop.getResult(m * perWeight + j * tn + r),
              arith::FastMathFlags::reassoc));
        rowsOut.push_back(vector::FromElementsOp::create(b, loc, rowType, sums));
      }
      rows.push_back(kernel.epilogue ? applyBody(kernel.epilogue, rowsOut, tn)
                                     : rowsOut[0]);
    }
    return rows;
  }

  /// A gather contraction's weights for the expert of slot `s`: the [N, K]
  /// slice of each stacked weight read (one, or a fused pair's two), and
  /// its input row.
  Value selectSlot(Value s) {
    Value id = tensor::ExtractOp::create(b, loc, c.selector, ValueRange{index(0), s});
    Value ex = arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
    blockWeights.clear();
    SmallVector<Value> stacked = {c.w};
    if (kernel.second)
      stacked.push_back(kernel.second->w);
    for (Value w : stacked) {
      auto type = cast<RankedTensorType>(w.getType());
      auto sliceType = RankedTensorType::get({c.n, c.k}, type.getElementType());
      blockWeights.push_back(tensor::ExtractSliceOp::create(
          b, loc, sliceType, w,
          ArrayRef<OpFoldResult>{ex, b.getIndexAttr(0), b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(c.n),
                                 b.getIndexAttr(c.k)},
          ArrayRef<OpFoldResult>(SmallVector<OpFoldResult>(3, b.getIndexAttr(1)))));
    }
    auto xType = RankedTensorType::get({c.k}, b.getF32Type());
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0)};
    if (c.perSlot)
      offsets.push_back(s);
    offsets.push_back(b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes(offsets.size() - 1, b.getIndexAttr(1));
    sizes.push_back(b.getIndexAttr(c.k));
    return tensor::ExtractSliceOp::create(
        b, loc, xType, c.x, offsets, sizes,
        SmallVector<OpFoldResult>(offsets.size(), b.getIndexAttr(1)));
  }

public:
  /// A gather contraction (with its epilogue, if any): a forall over the
  /// slots' blocks of tn weight rows, each reading its slot's expert.
  Value emitGather(int64_t rows) {
    Value dest = kernel.epilogue ? kernel.epilogue.getDpsInits()[0]
                                 : c.init.getDefiningOp<linalg::FillOp>().getOutputs()[0];
    int64_t tn = blockFor(c.n, rows), perSlot = c.n / tn;
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(c.slots * perSlot)},
        ValueRange{dest}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forall.getTerminator());
    Value blk = forall.getInductionVar(0);
    Value s = arith::DivUIOp::create(b, loc, blk, index(perSlot));
    Value n0 = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, blk, index(perSlot)), index(tn));
    Value xs = selectSlot(s);
    Value shared = forall.getRegionIterArgs()[0];
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), s, n0};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(tn)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    // Not rank-reduced: with one row a block, [1, 1, 1] -> [1] could keep a
    // strided unit dimension.
    Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes,
                                                strides);
    tile = block(tile, /*addInit=*/false, xs, {}, {}, n0, tn, index(0),
                 {index(0), index(0)});
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, loc, tile, shared, offsets, sizes,
                                          strides);
    return forall.getResult(0);
  }

  /// A per-slot gather contraction and the weighted sum over its slots that
  /// reads it (y[0, n] = sum_s w[0, s] * d[0, s, n], the MoE's combine): a
  /// forall over blocks of tn rows, each running through the slots in
  /// order and adding w * its rows to registers, then writing y's rows.
  /// Rows shorter than kShortRow values (the MoE's down projection) take
  /// twice the rows per block: a block then reads as many bytes of each
  /// slot's expert, contiguously, as one of full-length rows would.
  Value emitGatherCombine(int64_t rows) {
    if (c.k < kShortRow)
      rows *= 2;
    linalg::GenericOp combine = kernel.combine;
    Value slotWeights = combine.getDpsInputs()[1];
    Value dest = combine.getDpsInits()[0].getDefiningOp<linalg::FillOp>().getOutputs()[0];
    int64_t tn = blockFor(c.n, rows);
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(c.n / tn)}, ValueRange{dest},
        std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forall.getTerminator());
    Value n0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), index(tn));
    auto rowType = VectorType::get({tn}, b.getF32Type());
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(rowType, b.getF32FloatAttr(0.0).getValue()));
    auto slots = scf::ForOp::create(
        b, loc, index(0), index(c.slots), index(1), ValueRange{zero},
        [&](OpBuilder &, Location, Value s, ValueRange acc) {
          Value xs = selectSlot(s);
          Value row = blockRows(xs, {}, 1, n0, tn)[0];
          Value w = tensor::ExtractOp::create(b, loc, slotWeights,
                                              ValueRange{index(0), s});
          Value ws = vector::BroadcastOp::create(b, loc, rowType, w);
          // The combine's own order: acc + w * d.
          scf::YieldOp::create(
              b, loc,
              ValueRange{arith::AddFOp::create(
                  b, loc, acc[0], arith::MulFOp::create(b, loc, ws, row))});
        });
    Value sum = slots.getResult(0);
    if (kernel.sharedDown) {
      // The shared expert's rows of this block, gated, added as the add
      // generic adds them (its operand order).
      const Contraction &d = *kernel.sharedDown;
      blockWeights = {d.w};
      Value down = blockRows(d.x, {index(0)}, 1, n0, tn, d.k)[0];
      Value logit = tensor::ExtractOp::create(
          b, loc, kernel.sharedGate.getDpsInputs()[1], ValueRange{index(0), index(0)});
      Value gated = applyBody(kernel.sharedGate,
                              {down, vector::BroadcastOp::create(b, loc, rowType, logit)},
                              tn);
      Value routed = kernel.combine.getResult(0);
      sum = kernel.sharedAdd.getDpsInputs()[0] == routed
                ? applyBody(kernel.sharedAdd, {sum, gated}, tn)
                : applyBody(kernel.sharedAdd, {gated, sum}, tn);
    }
    Value shared = forall.getRegionIterArgs()[0];
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(tn)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes,
                                                strides);
    tile = vector::TransferWriteOp::create(b, loc, sum, tile,
                                           ValueRange{index(0), index(0)},
                                           ArrayRef<bool>{true})
               .getResult();
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, loc, tile, shared, offsets, sizes,
                                          strides);
    return forall.getResult(0);
  }

private:
  SmallVector<Value> blockWeights; ///< a gather's slices for this block
  OpBuilder &b;
  Location loc;
  const Contraction &c;
  Kernel &kernel;
  int64_t vl;
};

struct VectorizeContractionsPass
    : mlir::qnext::impl::VectorizeContractionsBase<VectorizeContractionsPass> {
  using VectorizeContractionsBase::VectorizeContractionsBase;

  void runOnOperation() override {
    if (vectorWidth < 1 || rows < 1 || tokenRows < 1 || tokenBlockRows < 1 ||
        prologueTasks < 1 || tokenTile < 0) {
      getOperation()->emitError("qnext-vectorize-contractions: vector-width, "
                                "rows, token-rows, token-block-rows and "
                                "prologue-tasks must be positive, token-tile "
                                "not negative");
      return signalPassFailure();
    }
    // Fused pairs first (their contractions are not kernels of their own),
    // then every other contraction. Each is matched again right before it
    // is emitted: an earlier kernel may have replaced what it reads.
    SmallVector<linalg::GenericOp> epilogues, contractions;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (matchEpilogue(op))
        epilogues.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : epilogues)
      if (std::optional<Kernel> k = matchEpilogue(op);
          k && k->c.k % vectorWidth == 0)
        emit(rewriter, *k);
    // The routed experts' weighted combines, each with its gather.
    SmallVector<linalg::GenericOp> combines;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (matchCombine(op))
        combines.push_back(op);
    });
    for (linalg::GenericOp op : combines)
      if (std::optional<Kernel> k = matchCombine(op); k && k->c.k % vectorWidth == 0) {
        matchSharedExpert(*k, vectorWidth);
        emit(rewriter, *k);
      }
    getOperation()->walk([&](linalg::GenericOp op) {
      if (std::optional<Contraction> c = match(op)) {
        if (c->k % vectorWidth == 0)
          contractions.push_back(op);
        else
          ++numSkipped;
      }
    });
    for (linalg::GenericOp op : contractions)
      if (std::optional<Contraction> c = match(op)) {
        std::optional<Kernel> k = matchPrologue(*c, vectorWidth);
        emit(rewriter, k ? *k : Kernel{*c, std::nullopt, {}, {}, {}});
      }
    // The groups' tags are consumed: what was not fused (a shape the
    // kernels do not take) is lowered as it would be unfused.
    getOperation()->walk([](Operation *op) { op->removeAttr(kFusionAttrName); });
  }

  void emit(IRRewriter &rewriter, Kernel k) {
    // The epilogue (or the combine) sits after the contractions: emit there.
    Operation *last = k.epilogue    ? k.epilogue.getOperation()
                      : k.sharedAdd ? k.sharedAdd.getOperation()
                      : k.combine   ? k.combine.getOperation()
                                    : k.c.op.getOperation();
    rewriter.setInsertionPoint(last);
    // The combine's zero fill, erased with it (read before it is replaced).
    linalg::FillOp combineFill =
        k.combine ? k.combine.getDpsInits()[0].getDefiningOp<linalg::FillOp>()
                  : linalg::FillOp();
    KernelEmitter emitter(rewriter, last->getLoc(), k, vectorWidth);
    Value result =
        !k.c.selector ? emitter.emit(rows, tokenRows, tokenBlockRows, prologueTasks,
                                     tokenTile)
        : k.combine   ? emitter.emitGatherCombine(rows)
                      : emitter.emitGather(rows);
    rewriter.replaceOp(last, result);
    if (k.sharedAdd) {
      // The add is replaced; the gate, the shared down projection (below)
      // and the combine go with it.
      rewriter.eraseOp(k.sharedGate);
      rewriter.eraseOp(k.combine);
      rewriter.eraseOp(k.sharedDown->op);
      if (auto fill = k.sharedDown->init.getDefiningOp<linalg::FillOp>();
          fill && fill->use_empty())
        rewriter.eraseOp(fill);
      ++numSharedExperts;
    }
    if (k.combine) {
      if (combineFill && combineFill->use_empty())
        rewriter.eraseOp(combineFill);
      ++numCombines;
    }
    SmallVector<Contraction> done = {k.c};
    if (k.second) {
      done.push_back(*k.second);
      ++numEpilogues;
    }
    for (Contraction &c : done) {
      if (k.epilogue || k.combine)
        rewriter.eraseOp(c.op);
      if (auto fill = c.init.getDefiningOp<linalg::FillOp>(); fill && fill->use_empty())
        rewriter.eraseOp(fill);
    }
    if (k.prologue) {
      if (k.collapse)
        rewriter.eraseOp(k.collapse);
      rewriter.eraseOp(k.prologue);
      ++numPrologues;
    }
    if (k.c.selector)
      ++numGathers;
    else
      ++(k.c.multiToken ? numMatmuls : numMatvecs);
  }
};

} // namespace
