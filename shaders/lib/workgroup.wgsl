// Workgroup memory for the reductions of lib/workgroup_sum.wgsl and lib/workgroup_max.wgsl. The including shader
// declares
//   const WG: u32          its threads per workgroup, a power of two
//   alias Partial = ...    what each thread contributes: f32, or a vector or matrix of several values at once
// and calls the reductions from uniform control flow: every thread of the workgroup, with its local index.
//
// Both reduce as a tree: each step, thread i < stride combines its value with that of thread i + stride, halving
// the live values until partial[0] holds the result, in log2(WG) steps behind barriers. A reduction may follow
// another: the first barrier waits until every thread has read the previous result.
var<workgroup> partial: array<Partial, WG>;
