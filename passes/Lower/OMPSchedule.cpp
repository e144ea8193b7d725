//===- OMPSchedule.cpp - the schedule of the OpenMP worksharing loops ------===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/OpenMP/OpenMPDialect.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_OMPSCHEDULE
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {
struct OMPSchedulePass : mlir::qnext::impl::OMPScheduleBase<OMPSchedulePass> {
  using OMPScheduleBase::OMPScheduleBase;

  void runOnOperation() override {
    std::optional<omp::ClauseScheduleKind> kind =
        omp::symbolizeClauseScheduleKind(schedule);
    if (!kind || (*kind != omp::ClauseScheduleKind::Static &&
                  *kind != omp::ClauseScheduleKind::Dynamic &&
                  *kind != omp::ClauseScheduleKind::Guided &&
                  *kind != omp::ClauseScheduleKind::Runtime)) {
      getOperation()->emitError("qnext-omp-schedule: schedule must be static, "
                                "dynamic, guided or runtime, not '")
          << schedule << "'";
      return signalPassFailure();
    }
    getOperation()->walk([&](omp::WsloopOp loop) {
      if (loop.getScheduleKind())
        return;
      loop.setScheduleKind(*kind);
      ++numScheduled;
    });
  }
};
} // namespace
