// RUN: qnext-opt %s --qnext-omp-schedule | FileCheck %s
// RUN: qnext-opt %s --qnext-omp-schedule="schedule=dynamic" | FileCheck %s --check-prefix=DYN
// RUN: not qnext-opt %s --qnext-omp-schedule="schedule=auto" 2>&1 | FileCheck %s --check-prefix=BAD

// A worksharing loop as convert-scf-to-openmp leaves it (no schedule: the
// runtime's static) gets the pass's schedule, guided by default; one that
// has a schedule keeps it.
// CHECK-LABEL: func.func @loops
// CHECK: omp.wsloop schedule(guided) {
// CHECK: omp.wsloop schedule(static) {
// DYN-LABEL: func.func @loops
// DYN: omp.wsloop schedule(dynamic) {
// DYN: omp.wsloop schedule(static) {
// BAD: qnext-omp-schedule: schedule must be static, dynamic, guided or runtime, not 'auto'
func.func @loops(%n: index, %m: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        %v = memref.load %m[%i] : memref<?xf32>
        memref.store %v, %m[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel {
    omp.wsloop schedule(static) {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        %v = memref.load %m[%i] : memref<?xf32>
        memref.store %v, %m[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
