// The largest `value` over the workgroup's threads, returned to every thread (see lib/workgroup.wgsl).
#include "lib/workgroup.wgsl"

fn workgroupMax(value: Partial, lid: u32) -> Partial {
  workgroupBarrier();
  partial[lid] = value;
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid < stride) {
      partial[lid] = max(partial[lid], partial[lid + stride]);
    }
  }
  workgroupBarrier();
  return partial[0];
}
