//===- KernelMatch.cpp - which contractions a kernel computes -------------===//
//
// Recognises the structured ops qnext-lower-to-linalg emits for x * W^T
// (LoweringUtils.h) and what fuses with them: a tagged elementwise epilogue
// over two contractions, a tagged prologue generic, one token's gather
// contractions, their weighted combine and the MoE's shared expert.
//
//===----------------------------------------------------------------------===//

#include "ContractionKernels.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::qnext::kernels {

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

/// `c.w` as stored: a qnext.dequantize's values and scales.
void readStored(Contraction &c) {
  if (auto dq = c.w.getDefiningOp<DequantizeOp>()) {
    c.w = dq.getValues();
    c.scales = dq.getScales();
    c.group = dq.getGroup();
    c.int4 = dq.getInt4();
  }
}

/// The columns (K) of `c`'s weight as stored in `type`: int4 has two a byte.
int64_t columnsOf(const Contraction &c, RankedTensorType type) {
  return type.getShape().back() * (c.int4 ? 2 : 1);
}

/// extract_slice(dequantize(v, s)) -> dequantize(extract_slice(v),
/// extract_slice(s)) when the slice keeps whole rows (all of the last
/// dimension, unit strides): the scales are sliced at the same rows.
struct SliceOfDequantize : OpRewritePattern<tensor::ExtractSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractSliceOp slice,
                                PatternRewriter &rw) const override {
    auto dq = slice.getSource().getDefiningOp<DequantizeOp>();
    if (!dq)
      return failure();
    auto source = cast<RankedTensorType>(dq.getType());
    int64_t last = source.getRank() - 1;
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    auto resultType = slice.getType();
    if (!slice.hasUnitStride() || !isConstantIntValue(offsets[last], 0) ||
        !isConstantIntValue(sizes[last], source.getDimSize(last)) ||
        resultType.getRank() == 0 ||
        resultType.getShape().back() != source.getDimSize(last))
      return failure();
    auto scalesType = cast<RankedTensorType>(dq.getScales().getType());
    auto valuesType = cast<RankedTensorType>(dq.getValues().getType());
    // The values' and the scales' rows: the same, all of their columns.
    auto rowsOf = [&](RankedTensorType of, SmallVector<OpFoldResult> &partSizes) {
      partSizes = sizes;
      partSizes[last] = rw.getIndexAttr(of.getDimSize(last));
      SmallVector<int64_t> shape(resultType.getShape());
      shape.back() = of.getDimSize(last);
      return RankedTensorType::get(shape, of.getElementType());
    };
    SmallVector<OpFoldResult> valueSizes, scaleSizes;
    RankedTensorType valueSlice = rowsOf(valuesType, valueSizes);
    RankedTensorType scaleSlice = rowsOf(scalesType, scaleSizes);
    Location loc = slice.getLoc();
    Value values = tensor::ExtractSliceOp::create(
        rw, loc, valueSlice, dq.getValues(), offsets, valueSizes,
        slice.getMixedStrides());
    Value scales = tensor::ExtractSliceOp::create(
        rw, loc, scaleSlice, dq.getScales(), offsets, scaleSizes,
        slice.getMixedStrides());
    rw.replaceOpWithNewOp<DequantizeOp>(slice, resultType, values, scales,
                                        dq.getGroupAttr(), dq.getInt4Attr());
    return success();
  }
};

/// A gather's body, `yield out + x * ext(tensor.extract w[index_cast(sel),
/// linalg.index nDim, linalg.index nDim + 1])` with x block argument 0 and
/// sel argument 1, w defined outside the body: the stacked weight w (null
/// if the body is not that).
Value gatheredWeight(linalg::GenericOp op, unsigned nDim) {
  Block &body = op.getRegion().front();
  Value product = multipliedBy(op, 0);
  auto extract = product ? product.getDefiningOp<tensor::ExtractOp>()
                         : tensor::ExtractOp();
  if (!extract || extract.getIndices().size() != 3 ||
      extract.getTensor().getParentRegion() == &op.getRegion())
    return {};
  auto toIndex = extract.getIndices()[0].getDefiningOp<arith::IndexCastOp>();
  auto n = extract.getIndices()[1].getDefiningOp<linalg::IndexOp>();
  auto k = extract.getIndices()[2].getDefiningOp<linalg::IndexOp>();
  if (!toIndex || toIndex.getIn() != body.getArgument(1) || !n ||
      n.getDim() != nDim || !k || k.getDim() != nDim + 1)
    return {};
  return extract.getTensor();
}

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

  c.w = gatheredWeight(op, /*nDim=*/2);
  if (!c.w)
    return std::nullopt;
  readStored(c);

  auto xType = dyn_cast<RankedTensorType>(c.x.getType());
  auto wType = llvm::cast<RankedTensorType>(c.w.getType());
  auto yType = llvm::cast<RankedTensorType>(c.init.getType());
  Type wElt = wType.getElementType();
  if (!xType || !xType.getElementType().isF32() ||
      !yType.getElementType().isF32() || !yType.hasStaticShape() ||
      yType.getDimSize(0) != 1 || !wType.hasStaticShape() ||
      !(isWeightElement(wElt) || c.scales))
    return std::nullopt;
  c.slots = yType.getDimSize(1);
  c.n = wType.getDimSize(1);
  c.k = columnsOf(c, wType);
  if (yType.getDimSize(2) != c.n || xType.getShape().back() != c.k)
    return std::nullopt;
  return c;
}

/// The gather contraction of rows (see Contraction):
///   (p, n, k): x (p, k), selector (p) -> y (p, n)
///   yield y + x * ext(tensor.extract w[index_cast(selector), n, k])
/// starting from zero.
std::optional<Contraction> matchRowGather(linalg::GenericOp op) {
  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map = [&](ArrayRef<AffineExpr> results) {
    return AffineMap::get(3, 0, results, ctx);
  };
  using utils::IteratorType;
  if (op.getIteratorTypesArray() !=
          SmallVector<IteratorType>{IteratorType::parallel, IteratorType::parallel,
                                    IteratorType::reduction} ||
      op.getIndexingMapsArray() != SmallVector<AffineMap>{map({d(0), d(2)}),
                                                          map({d(0)}),
                                                          map({d(0), d(1)})} ||
      !isZeroFill(op.getDpsInits()[0]))
    return std::nullopt;
  Contraction c{op, op.getDpsInputs()[0], {}, op.getDpsInits()[0], true, 0, 0};
  c.selector = op.getDpsInputs()[1];
  c.rowSelector = true;
  c.w = gatheredWeight(op, /*nDim=*/1);
  if (!c.w)
    return std::nullopt;
  readStored(c);
  auto xType = cast<RankedTensorType>(c.x.getType());
  auto wType = cast<RankedTensorType>(c.w.getType());
  auto yType = cast<RankedTensorType>(c.init.getType());
  if (!xType.getElementType().isF32() || !yType.getElementType().isF32() ||
      !wType.hasStaticShape() || !(isWeightElement(wType.getElementType()) || c.scales))
    return std::nullopt;
  c.n = wType.getDimSize(1);
  c.k = columnsOf(c, wType);
  if (yType.getDimSize(1) != c.n || xType.getDimSize(1) != c.k)
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
  } else if (iters.size() == 3) {
    return matchRowGather(op);
  } else {
    return std::nullopt;
  }
  c.x = op.getDpsInputs()[xArg];
  c.w = op.getDpsInputs()[wArg];

  // Body: yield out + x * ext(w) (either operand order).
  if (multipliedBy(op, xArg) != op.getRegion().front().getArgument(wArg))
    return std::nullopt;
  readStored(c);

  auto xType = cast<RankedTensorType>(c.x.getType());
  auto wType = cast<RankedTensorType>(c.w.getType());
  auto yType = cast<RankedTensorType>(c.init.getType());
  Type wElt = wType.getElementType();
  if (!xType.getElementType().isF32() || !yType.getElementType().isF32() ||
      !(isWeightElement(wElt) || c.scales) || wType.isDynamicDim(1))
    return std::nullopt;
  c.n = wType.getDimSize(0);
  c.k = columnsOf(c, wType);
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
      !cs[0]->scales != !cs[1]->scales || cs[0]->group != cs[1]->group ||
      cs[0]->int4 != cs[1]->int4 ||
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
      !fitsVectors(*d, vl) ||
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
  if (ShapedType::isDynamic(c.n) || c.selector)
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

void populateSliceDequantizePatterns(RewritePatternSet &patterns) {
  patterns.add<SliceOfDequantize>(patterns.getContext());
}

} // namespace mlir::qnext::kernels
