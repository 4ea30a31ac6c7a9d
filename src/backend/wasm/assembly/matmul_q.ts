// The linear layers on quantized weights (src/quant.ts's q8 and q4 blocks), as matmul.ts does them on f32 and f16:
//
//   out[m, n] = sum_k a[m, k] * x[n, k] + bias[n],   x the weights the blocks stand for
//
//   w [N, K] q8 or q4: N * nb blocks of packed integers (nb = ceil(K / 32); 32 bytes a block for q8, 16 for q4),
//   row by row, then at `scales` one u32 word a block (q8: the f32 d; q4: f16 d low, f16 m high). out [M, N] f32,
//   bias [N] f32 or 0 for none; pointers are byte addresses.
//
// Integer dot products. The activations are quantized first, once per call (quantizeActs, on the calling thread):
// each block of 32 values of a row of a becomes 32 integers q_a with one f32 step da = max|a| / L; L = 32767 for
// q8 (int16 activations), 127 for q4 (int8 activations, as llama.cpp rounds them for its q4 dot products). A
// block's dot product is then 32 integer products, exact in i32, scaled once:
//
//   q8  sum_j x_j a_j = d * sum_j q_j a_j          ~ d * da * sum_j q_j q_a,j
//   q4  sum_j x_j a_j = m * sum_j a_j + d * sum_j q_j a_j ~ m * sa + d * da * sum_j q_j q_a,j,   sa = da * sum_j q_a,j
//
// So both compute the dequantized weights times the rounded activations, exactly as written (q4's sa is the sum
// of the rounded values, not of a: the rounding errors then meet x_j, centred on 0, rather than x_j - m). Rounding
// a moves each value by at most da / 2: about 1.5e-5 of its block's largest for q8, 4e-3 for q4, whose own
// rounding of the weights (half a step of 15) is 30 times coarser still. The weights' integers are widened in
// registers, never written back as floats.
//
// q8: i32x4.dot_i16x8_s on int16 activations (eight multiply-adds an instruction, |q| <= 127 times |q_a| <= 32767).
//
// q4: a block of weights is one 16-byte load, read as eight 16-bit lanes of four nibbles: lane i holds values 4i,
// 4i+1, 4i+2, 4i+3 of the block (low nibble first). Two builds of this file read it two ways, with the same
// integer sums lane for lane (each i32 lane sums the products of values 8i .. 8i+7), so the same bits come out:
// - RELAXED (the build with relaxed SIMD, kernels.relaxed.wasm, where the runtime has it): a byte mask gives the
//   even values 0, 2, .., 30 as bytes and a shift and the mask the odd ones; i16x8.relaxed_dot_i8x16_i7x16_s
//   multiplies 16 int8 activations by 16 nibbles in one instruction (x64's pmaddubsw; the nibbles, 0..15, are the
//   7-bit operand, so no runtime may round it differently) and its pairs, at most 2 * 127 * 15, are added as int16
//   before they are widened. The activations are int8, even values then odd values: 32 bytes a block.
// - otherwise three shifts and three masks give the values 0, 4, .., 28, then 1, 5, .., 29, and so on, already
//   int16, for i32x4.dot_i16x8_s; the activations are int16 in that order (64 bytes a block, quantizeActs' q4
//   order), the same integers as the relaxed build's.
// In memory (src/backend/wasm/kernels.ts's kernelOrder), each whole group of four q4 blocks of a row has its words
// interleaved: word i (bytes 4i .. 4i+3, values 8i .. 8i+7) of block j at bytes 16i + 4j of the group's 64, so a
// 16-byte load holds word i of all four blocks and a dot product's lanes fall to the blocks, j's in the 32-bit
// lane j: the four blocks' totals come out of one widening (relaxed: of 16-bit pairs summed over the group, 16
// products of at most 127 * 15 each, below 2^15) or one chain of adds (otherwise), with no sums across lanes. The
// matvec's activations of a group are stored the same way (actWord); the matmul gathers each block's words
// (loadQ4Block). The blocks past the last whole group (nb % 4 of them) keep src/quant.ts's order.
// K need not be a multiple of 32: the activations of a last, partial block are padded with zeros (the padded
// weights are not zero for q4, m + d * q, so a's padding is what cancels them).
//
// Every kernel computes the rows n0 <= n < n1 of w only: one thread's share (src/backend/wasm/pool.ts).
import { sum4 } from './simd';

/** Whether this build has relaxed SIMD (q4's int8 products; see the header). */
const RELAXED: bool = ASC_FEATURE_RELAXED_SIMD;

/** Bytes of one block of quantized activations: 32 int16, or for q4 in the relaxed build 32 int8. */
@inline function actBlockBytes(q4: bool): usize {
  return q4 && RELAXED ? 32 : 64;
}

/** The integer levels of an activation block: max|a| becomes L. */
@inline function actLevels(q4: bool): f32 {
  return q4 ? 127 : 32767;
}

/** Blocks in a row of K values. */
@inline export function blocks(K: i32): i32 {
  return (K + 31) >> 5;
}

/**
 * Quantize the rows of a [M, K] f32 into blocks of 32 integers at aq: [M, nb] blocks (actBlockBytes each), then
 * da [M, nb] f32, then sa [M, nb] f32 (q4: da times the sum of the block's integers; q8: 0, unused) (at most
 * M * nb * 72 bytes in all; the host sizes it, src/backend/wasm/kernels.ts). For q8: int16, in order. For q4: 127 levels, in the order its kernel reads the
 * nibbles (see the header): int8 even values then odd values in the relaxed build; otherwise int16 values 0, 4,
 * .., 28, then 1, 5, .., 29, 2, 6, .., 30 and 3, 7, .., 31; with `grouped` (for the matvec), each whole group of
 * four blocks with its words interleaved as the weights' (actWord).
 */
export function quantizeActs(aq: usize, a: usize, M: i32, K: i32, q4: bool, grouped: bool): void {
  const nb = blocks(K);
  const full = K >> 5;
  const groups = grouped ? nb >> 2 : 0; // q4: whole groups of four blocks stored as the matvec reads them
  const blockBytes = actBlockBytes(q4);
  const levels = actLevels(q4);
  const da = aq + <usize>M * <usize>nb * blockBytes;
  const sa = da + (<usize>(M * nb) << 2);
  for (let m = 0; m < M; m++) {
    const row = a + (<usize>m * <usize>K << 2);
    const row0 = aq + <usize>(m * nb) * blockBytes; // q4: where this row's blocks start
    for (let b = 0; b < nb; b++) {
      const q = aq + <usize>(m * nb + b) * blockBytes;
      const x = row + (<usize>b << 7);
      let step: f32;
      let sum: f32 = 0; // q4's sa; q8 has no use for it
      if (b < full) {
        const v0 = v128.load(x);
        const v1 = v128.load(x, 16);
        const v2 = v128.load(x, 32);
        const v3 = v128.load(x, 48);
        const v4 = v128.load(x, 64);
        const v5 = v128.load(x, 80);
        const v6 = v128.load(x, 96);
        const v7 = v128.load(x, 112);
        const big = f32x4.max(
          f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3))),
          f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))),
        );
        const amax = max(max(f32x4.extract_lane(big, 0), f32x4.extract_lane(big, 1)), max(f32x4.extract_lane(big, 2), f32x4.extract_lane(big, 3)));
        step = amax / levels;
        const inv = f32x4.splat(amax > 0 ? levels / amax : 0);
        // to int16 (narrow saturates, nearest never passes the levels by more than rounding)
        const n0 = i16x8.narrow_i32x4_s(toInt(v0, inv), toInt(v1, inv));
        const n1 = i16x8.narrow_i32x4_s(toInt(v2, inv), toInt(v3, inv));
        const n2 = i16x8.narrow_i32x4_s(toInt(v4, inv), toInt(v5, inv));
        const n3 = i16x8.narrow_i32x4_s(toInt(v6, inv), toInt(v7, inv));
        if (q4 && RELAXED) {
          const lo = i8x16.narrow_i16x8_s(n0, n1); // values 0 .. 15
          const hi = i8x16.narrow_i16x8_s(n2, n3); // 16 .. 31
          storeActVector(row0, groups, b, 0, v128.shuffle<u8>(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
          storeActVector(row0, groups, b, 1, v128.shuffle<u8>(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
        } else if (q4) {
          const t0 = v128.shuffle<i16>(n0, n1, 0, 4, 8, 12, 1, 5, 9, 13); // values 0 4 8 12, 1 5 9 13
          const t1 = v128.shuffle<i16>(n0, n1, 2, 6, 10, 14, 3, 7, 11, 15); // 2 6 10 14, 3 7 11 15
          const t2 = v128.shuffle<i16>(n2, n3, 0, 4, 8, 12, 1, 5, 9, 13); // 16 20 24 28, 17 21 25 29
          const t3 = v128.shuffle<i16>(n2, n3, 2, 6, 10, 14, 3, 7, 11, 15);
          storeActVector(row0, groups, b, 0, v128.shuffle<i16>(t0, t2, 0, 1, 2, 3, 8, 9, 10, 11));
          storeActVector(row0, groups, b, 1, v128.shuffle<i16>(t0, t2, 4, 5, 6, 7, 12, 13, 14, 15));
          storeActVector(row0, groups, b, 2, v128.shuffle<i16>(t1, t3, 0, 1, 2, 3, 8, 9, 10, 11));
          storeActVector(row0, groups, b, 3, v128.shuffle<i16>(t1, t3, 4, 5, 6, 7, 12, 13, 14, 15));
        } else {
          v128.store(q, n0);
          v128.store(q, n1, 16);
          v128.store(q, n2, 32);
          v128.store(q, n3, 48);
        }
        if (q4) {
          // |q_a| <= 127: four to an int16 lane
          const lanes = i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.add(n0, n1), i16x8.add(n2, n3)));
          sum = <f32>(i32x4.extract_lane(lanes, 0) + i32x4.extract_lane(lanes, 1) + i32x4.extract_lane(lanes, 2) + i32x4.extract_lane(lanes, 3)) * step;
        }
      } else {
        // the last, partial block: n values, the rest zeros
        const n = K - (b << 5);
        let amax: f32 = 0;
        for (let j = 0; j < n; j++) amax = max(amax, abs(load<f32>(x + (<usize>j << 2))));
        step = amax / levels;
        const inv: f32 = amax > 0 ? levels / amax : 0;
        const top = <i32>levels;
        let total = 0;
        for (let j = 0; j < 32; j++) {
          const v = min(top, max(-top, j < n ? <i32>nearest(load<f32>(x + (<usize>j << 2)) * inv) : 0));
          total += v;
          // vector and byte within it, as the full blocks' stores above
          if (q4 && RELAXED) store<i8>(actWord(row0, groups, b, j & 1, j >> 3) + <usize>((j >> 1) & 3), <i8>v);
          else if (q4) store<i16>(actWord(row0, groups, b, j & 3, j >> 3) + <usize>(((j >> 2) & 1) << 1), <i16>v);
          else store<i16>(q + (<usize>j << 1), <i16>v);
        }
        if (q4) sum = <f32>total * step;
      }
      store<f32>(da + (<usize>(m * nb + b) << 2), step);
      store<f32>(sa + (<usize>(m * nb + b) << 2), sum);
    }
  }
}

/**
 * Where word i (0..3) of vector v of block b of a row of q4 activations starting at row0 goes: vector v of
 * block b is what the block's nibbles of one kind meet (RELAXED: v 0 the even values, 1 the odd ones; otherwise
 * v 0..3 the nibbles 0..3 of each 16-bit lane), 16 bytes. The blocks of the row's first `groups` whole groups of
 * four are stored as the matvec reads their weights (see the header): word i of the four blocks' vector v
 * together, so that one vector's lanes meet word i of the four blocks' weights; the other blocks one after another.
 */
@inline function actWord(row0: usize, groups: i32, b: i32, v: i32, i: i32): usize {
  const vectors = RELAXED ? 2 : 4;
  const blockBytes = <usize>(vectors << 4);
  if (b < groups << 2) return row0 + <usize>(b >> 2) * (blockBytes << 2) + <usize>((i * vectors + v) << 4) + <usize>((b & 3) << 2);
  return row0 + <usize>b * blockBytes + <usize>(v << 4) + <usize>(i << 2);
}

/** Vector v of block b of a row of q4 activations (see actWord). */
@inline function storeActVector(row0: usize, groups: i32, b: i32, v: i32, x: v128): void {
  v128.store32_lane(actWord(row0, groups, b, v, 0), x, 0);
  v128.store32_lane(actWord(row0, groups, b, v, 1), x, 1);
  v128.store32_lane(actWord(row0, groups, b, v, 2), x, 2);
  v128.store32_lane(actWord(row0, groups, b, v, 3), x, 3);
}

@inline function toInt(v: v128, inv: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, inv)));
}

@inline function storeOut(row: usize, bias: usize, n: i32, value: f32, n1: i32): void {
  if (n < n1) store<f32>(row + (<usize>n << 2), bias ? value + load<f32>(bias + (<usize>n << 2)) : value);
}

// f16 -> f32 of a scale (finite: d and m of a block; the low 16 bits of h), by moving the bits and rescaling by
// 2^112 (see simd.ts)
const TWO_POW_112: f32 = reinterpret<f32>(0x77800000);

@inline export function half(h: u32): f32 {
  return reinterpret<f32>(((h & 0x7fff) << 13) | ((h & 0x8000) << 16)) * TWO_POW_112;
}



/** acc + lanes * step: a block's integer sums, scaled, into four f32 lanes. */
@inline function scaled(acc: v128, lanes: v128, step: f32): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(lanes), f32x4.splat(step)));
}

// matvec (M = 1): a row of w at a time, streamed once, four blocks a step. q8: their four i32x4 sums are added
// across lanes into one i32x4 of four block totals (reduce4); q4: a group's totals come in one vector already (see
// the header). So the scaling is one conversion and one multiply-add for four blocks, with the four scales read,
// and for q4 widened from f16, in one load (d is each scale word's low half, m its high half, as simd.ts's
// evenHalves and oddHalves). The last nb % 4 blocks go one by one. A q8 block costs 14 vector instructions (two
// loads, four widenings, four dot products, three adds) besides its four loads of activations and a quarter of the
// scaling; a q4 group of the relaxed build 32 (four loads, four shifts and eight masks, eight dot products, seven
// adds and one widening) and eight loads of activations. Four q4 blocks read one by one took four widenings and
// then six instructions to add them across lanes: V8's x64 code for a group went from 95 instructions to 78, and
// the q4 matvecs 12-21% faster on one thread (bench/wasm-matvec.ts's shapes). Without relaxed SIMD a group is 60
// (four loads, twelve shifts and masks, sixteen dot products, fifteen adds) and sixteen loads.
//
// Written for what V8's code generator does with it (x64, measured with bench/wasm-matvec.ts):
// - It computes the values of a loop iteration level by level (every load, then every shift, then every dot
//   product): for four blocks that is more vectors than x64 has registers, and the spills to the stack cost as
//   much as the work. A store after each block's sum (q4: after each word's products), into this row's own output,
//   written for good at the end, keeps them in order: the next loads cannot move above it.
// - It builds a v128 constant anew in every iteration (three instructions): the masks are read from memory once.
// - Offsets it can compute once it computes in every iteration: the pointers are moved on instead.
// A row at a time beats four rows a pass that share the activation loads: one stream of weights keeps the
// hardware prefetcher ahead of a matvec that reads every weight from memory, four streams (and the scales' four)
// do not, and a decode step's weights are never in cache. Two q4 groups a step were no faster than one.
/** q4's mask: the low nibble of each 16-bit lane, or in the relaxed build of each byte. */
const Q4_MASK = RELAXED
  ? memory.data<u16>([0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f])
  : memory.data<u16>([0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f]);
/** simd.ts's f16 -> f32 of oddHalves and evenHalves: the bits kept, then the factor 2^112, four lanes each. */
const HALF_CONSTANTS = memory.data<u32>([0x8fffe000, 0x8fffe000, 0x8fffe000, 0x8fffe000, 0x77800000, 0x77800000, 0x77800000, 0x77800000]);

/** The i32x4 sums of one q4 block (16 bytes at wb) against the activations a0..a3 (nibble order). */
@inline function dotQ4Lanes(wb: usize, a0: v128, a1: v128, a2: v128, a3: v128, mask: v128): v128 {
  const v = v128.load(wb);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(v, mask), a0), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 4), mask), a1)),
    i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 8), mask), a2), i32x4.dot_i16x8_s(i16x8.shr_u(v, 12), a3)),
  );
}

/**
 * The relaxed build's q4 block: its even values lo (v & mask, a byte each) and odd values hi ((v >> 4) & mask)
 * against 32 int8 activations at ab (even values, then odd ones).
 */
@inline function dotQ4Relaxed(lo: v128, hi: v128, ab: usize): v128 {
  const pairs = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(ab), lo), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(ab, 16), hi));
  return i32x4.extadd_pairwise_i16x8_s(pairs);
}

/** The same for a q8 block (32 bytes at wb). */
@inline function dotQ8Lanes(wb: usize, a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const w0 = v128.load(wb);
  const w1 = v128.load(wb, 16);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w0), a0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w0), a1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w1), a2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w1), a3)),
  );
}

export function matvecQ8(out: usize, aq: usize, w: usize, scales: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  matvecBlocks<i8>(out, aq, w, scales, bias, K, n0, n1);
}

export function matvecQ4(out: usize, aq: usize, w: usize, scales: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  matvecBlocks<u8>(out, aq, w, scales, bias, K, n0, n1);
}

/** The i32x4 sums of block b (0..3) of the four at wb against its activations at ab, q8 (T = i8) or q4 (u8). */
@inline function dotLanes<T>(wb: usize, ab: usize, b: usize, mask: v128): v128 {
  if (!isSigned<T>() && RELAXED) {
    const v = v128.load(wb + (b << 4));
    return dotQ4Relaxed(v128.and(v, mask), v128.and(i16x8.shr_u(v, 4), mask), ab + (b << 5));
  }
  const a0 = v128.load(ab + (b << 6));
  const a1 = v128.load(ab + (b << 6), 16);
  const a2 = v128.load(ab + (b << 6), 32);
  const a3 = v128.load(ab + (b << 6), 48);
  return isSigned<T>() ? dotQ8Lanes(wb + (b << 5), a0, a1, a2, a3) : dotQ4Lanes(wb + (b << 4), a0, a1, a2, a3, mask);
}

/** The matvec on q8 (T = i8) or q4 (T = u8) blocks: the format is chosen when the module is compiled. */
@inline function matvecBlocks<T>(out: usize, aq: usize, w: usize, scales: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  const q4 = !isSigned<T>();
  const blockBytes: usize = q4 ? 16 : 32;
  const actBytes = actBlockBytes(q4);
  const nb = blocks(K);
  const da = aq + <usize>nb * actBytes;
  const sa = da + (<usize>nb << 2); // q4
  const mask = q4 ? v128.load(Q4_MASK) : i32x4.splat(0);
  const halfBits = q4 ? v128.load(HALF_CONSTANTS) : i32x4.splat(0);
  const halfScale = q4 ? v128.load(HALF_CONSTANTS, 16) : i32x4.splat(0);
  for (let n = n0; n < n1; n++) {
    const o = out + (<usize>n << 2);
    let wb = w + <usize>n * <usize>nb * blockBytes;
    let sc = scales + (<usize>n * <usize>nb << 2);
    let ab = aq;
    let b4: usize = 0;
    let acc = f32x4.splat(0);
    let b = 0;
    for (; b + 3 < nb; b += 4) {
      if (q4) {
        acc = q4Group(acc, wb, ab, sc, da + b4, sa + b4, mask, halfBits, halfScale, o);
      } else {
        const t0 = dotLanes<T>(wb, ab, 0, mask);
        v128.store32_lane(o, t0, 0);
        const t1 = dotLanes<T>(wb, ab, 1, mask);
        v128.store32_lane(o, t1, 0);
        const t2 = dotLanes<T>(wb, ab, 2, mask);
        v128.store32_lane(o, t2, 0);
        const t3 = dotLanes<T>(wb, ab, 3, mask);
        const totals = f32x4.convert_i32x4_s(reduce4(t0, t1, t2, t3));
        acc = f32x4.add(acc, f32x4.mul(totals, f32x4.mul(v128.load(sc), v128.load(da + b4))));
      }
      wb += 4 * blockBytes;
      sc += 16;
      ab += 4 * actBytes;
      b4 += 16;
    }
    let sum = sum4(acc);
    for (; b < nb; b++) {
      const s = load<u32>(sc);
      const t = dotLanes<T>(wb, ab, 0, mask);
      const total = <f32>(i32x4.extract_lane(t, 0) + i32x4.extract_lane(t, 1) + i32x4.extract_lane(t, 2) + i32x4.extract_lane(t, 3));
      if (q4) sum += total * (half(s) * load<f32>(da + b4)) + half(s >> 16) * load<f32>(sa + b4);
      else sum += total * (reinterpret<f32>(s) * load<f32>(da + b4));
      wb += blockBytes;
      sc += 4;
      ab += actBytes;
      b4 += 4;
    }
    storeOut(out, bias, n, sum, n1);
  }
}

/**
 * acc plus a q4 group's products: its totals times d * da, plus m * sa, lane j block j's (the scale words at sc,
 * da and sa of the activations' four blocks at da and sa). d is each scale word's low half and m its high half,
 * widened from f16 as simd.ts's evenHalves and oddHalves.
 */
@inline function q4Group(acc: v128, wb: usize, ab: usize, sc: usize, da: usize, sa: usize, mask: v128, halfBits: v128, halfScale: v128, o: usize): v128 {
  const totals = f32x4.convert_i32x4_s(dotQ4Group(wb, ab, mask, o));
  const words = v128.load(sc);
  const dq = f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(words, 16), 3), halfBits), halfScale);
  const mq = f32x4.mul(v128.and(i32x4.shr_s(words, 3), halfBits), halfScale);
  acc = f32x4.add(acc, f32x4.mul(totals, f32x4.mul(dq, v128.load(da))));
  return f32x4.add(acc, f32x4.mul(mq, v128.load(sa)));
}

/**
 * The four integer totals of a group of four q4 blocks (64 bytes at wb, word i of block j at 16 * i + 4 * j)
 * against its activations at ab (actWord's order): lane j is block j's. RELAXED: each 16-bit lane sums 16
 * products of at most 127 * 15, below 2^15, before one widening; otherwise every dot product's 32-bit lane j
 * is block j's already.
 */
@inline function dotQ4Group(wb: usize, ab: usize, mask: v128, o: usize): v128 {
  let s = dotQ4Words(wb, ab, 0, mask);
  v128.store32_lane(o, s, 0);
  s = addWordSums(s, dotQ4Words(wb, ab, 1, mask));
  v128.store32_lane(o, s, 0);
  s = addWordSums(s, dotQ4Words(wb, ab, 2, mask));
  v128.store32_lane(o, s, 0);
  s = addWordSums(s, dotQ4Words(wb, ab, 3, mask));
  return RELAXED ? i32x4.extadd_pairwise_i16x8_s(s) : s;
}

/** Words i of a group's four blocks against their activations: int16 pairs (RELAXED) or i32 lanes. */
@inline function dotQ4Words(wb: usize, ab: usize, i: usize, mask: v128): v128 {
  return RELAXED ? dotQ4Word(wb, ab, i, mask) : dotQ4Plain(wb, ab, i, mask);
}

/** Two of dotQ4Words' sums added, in their lanes' width. */
@inline function addWordSums(s: v128, t: v128): v128 {
  return RELAXED ? i16x8.add(s, t) : i32x4.add(s, t);
}

/** RELAXED: words i of a group's four blocks (16 bytes) against their even and odd activations, int16 pairs. */
@inline function dotQ4Word(wb: usize, ab: usize, i: usize, mask: v128): v128 {
  const v = v128.load(wb + (i << 4));
  return i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(ab + (i << 5)), v128.and(v, mask)),
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(ab + (i << 5), 16), v128.and(i16x8.shr_u(v, 4), mask)),
  );
}

/** Otherwise: words i of a group's four blocks against the activations of their four nibbles, i32 lanes. */
@inline function dotQ4Plain(wb: usize, ab: usize, i: usize, mask: v128): v128 {
  const v = v128.load(wb + (i << 4));
  const a = ab + (i << 6);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(v, mask), v128.load(a)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 4), mask), v128.load(a, 16))),
    i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(v, 8), mask), v128.load(a, 32)), i32x4.dot_i16x8_s(i16x8.shr_u(v, 12), v128.load(a, 48))),
  );
}

/** [sum of t0's lanes, t1's, t2's, t3's]: a transpose and add, six instructions for four horizontal sums. */
@inline function reduce4(t0: v128, t1: v128, t2: v128, t3: v128): v128 {
  const s01 = i32x4.add(v128.shuffle<i32>(t0, t1, 0, 4, 1, 5), v128.shuffle<i32>(t0, t1, 2, 6, 3, 7)); // t0 02 t1 02 t0 13 t1 13
  const s23 = i32x4.add(v128.shuffle<i32>(t2, t3, 0, 4, 1, 5), v128.shuffle<i32>(t2, t3, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(s01, s23, 0, 1, 4, 5), v128.shuffle<i32>(s01, s23, 2, 3, 6, 7));
}

// matmul (M > 1): blocks of 4 rows of a by one row of w, four dot products sharing each block of w (loaded and
// widened once for four rows of a); the row of w stays in L1 while every block of a passes it. Rows past the end
// of a are clamped to its last row, as matmul.ts does: loads stay in bounds and their sums are not stored. As in
// the matvec, a store after each row's dot product (into that row's own output) keeps V8 from computing the four
// rows level by level, the q4 mask is read from memory once, and the pointers move on. A q4 block of a whole group
// is gathered from its four words (loadQ4Block), so the blocks, their activations (stored block by block for a
// matmul: quantizeActs' `grouped` off) and every sum are as they were before groups: prefill's bits too. (Reading
// whole groups as the matvec does made a 64-token GPT-2 124M q4 prefill 5-7% faster, but summed in another order,
// and a sampled q4 run's tokens changed.)
export function matmulQ8(out: usize, aq: usize, w: usize, scales: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmulBlocks<i8>(out, aq, w, scales, bias, M, N, K, n0, n1);
}

export function matmulQ4(out: usize, aq: usize, w: usize, scales: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmulBlocks<u8>(out, aq, w, scales, bias, M, N, K, n0, n1);
}

/** The matmul on q8 (T = i8) or q4 (T = u8) blocks: the format is chosen when the module is compiled. */
@inline function matmulBlocks<T>(out: usize, aq: usize, w: usize, scales: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const q4 = !isSigned<T>();
  const blockBytes: usize = q4 ? 16 : 32;
  const nb = blocks(K);
  const actBytes = actBlockBytes(q4);
  const aStride = <usize>nb * actBytes;
  const daBase = aq + <usize>M * aStride;
  const saOffset = <usize>(M * nb) << 2; // q4: sa follows da
  const outStride = <usize>N << 2;
  const mask = v128.load(Q4_MASK);
  for (let n = n0; n < n1; n++) {
    const col = out + (<usize>n << 2);
    for (let m = 0; m < M; m += 4) {
      const r1 = <usize>min(m + 1, M - 1);
      const r2 = <usize>min(m + 2, M - 1);
      const r3 = <usize>min(m + 3, M - 1);
      const o0 = col + <usize>m * outStride;
      const o1 = col + r1 * outStride;
      const o2 = col + r2 * outStride;
      const o3 = col + r3 * outStride;
      let a0 = aq + <usize>m * aStride;
      let a1 = aq + r1 * aStride;
      let a2 = aq + r2 * aStride;
      let a3 = aq + r3 * aStride;
      let d0 = daBase + (<usize>(m * nb) << 2);
      let d1 = daBase + (r1 * <usize>nb << 2);
      let d2 = daBase + (r2 * <usize>nb << 2);
      let d3 = daBase + (r3 * <usize>nb << 2);
      let wb = w + <usize>n * <usize>nb * blockBytes;
      let sc = scales + (<usize>n * <usize>nb << 2);
      let acc0 = f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      let acc2 = f32x4.splat(0);
      let acc3 = f32x4.splat(0);
      let mins = f32x4.splat(0); // q4, lane i: sum over blocks of m * sa of row i
      for (let b = 0; b < nb; b++) {
        // the block's 32 integers as four int16 vectors (the relaxed build's q4: two of bytes), and its scale d
        const s = load<u32>(sc);
        let x0: v128, x1: v128, x2: v128, x3: v128;
        let d: f32;
        if (q4 && RELAXED) {
          const v = loadQ4Block(wb, b, nb);
          x0 = v128.and(v, mask);
          x1 = v128.and(i16x8.shr_u(v, 4), mask);
          x2 = x0;
          x3 = x1;
          d = half(s);
        } else if (q4) {
          const v = loadQ4Block(wb, b, nb);
          x0 = v128.and(v, mask);
          x1 = v128.and(i16x8.shr_u(v, 4), mask);
          x2 = v128.and(i16x8.shr_u(v, 8), mask);
          x3 = i16x8.shr_u(v, 12);
          d = half(s);
        } else {
          const w0 = v128.load(wb);
          const w1 = v128.load(wb, 16);
          x0 = i16x8.extend_low_i8x16_s(w0);
          x1 = i16x8.extend_high_i8x16_s(w0);
          x2 = i16x8.extend_low_i8x16_s(w1);
          x3 = i16x8.extend_high_i8x16_s(w1);
          d = reinterpret<f32>(s);
        }
        acc0 = scaled(acc0, (q4 && RELAXED ? dotQ4Relaxed(x0, x1, a0) : dot4(x0, x1, x2, x3, a0)), d * load<f32>(d0));
        v128.store32_lane(o0, acc0, 0);
        acc1 = scaled(acc1, (q4 && RELAXED ? dotQ4Relaxed(x0, x1, a1) : dot4(x0, x1, x2, x3, a1)), d * load<f32>(d1));
        v128.store32_lane(o1, acc1, 0);
        acc2 = scaled(acc2, (q4 && RELAXED ? dotQ4Relaxed(x0, x1, a2) : dot4(x0, x1, x2, x3, a2)), d * load<f32>(d2));
        v128.store32_lane(o2, acc2, 0);
        acc3 = scaled(acc3, (q4 && RELAXED ? dotQ4Relaxed(x0, x1, a3) : dot4(x0, x1, x2, x3, a3)), d * load<f32>(d3));
        v128.store32_lane(o3, acc3, 0);
        if (q4) {
          let sums = v128.load32_splat(d0 + saOffset);
          sums = v128.load32_lane(d1 + saOffset, sums, 1);
          sums = v128.load32_lane(d2 + saOffset, sums, 2);
          sums = v128.load32_lane(d3 + saOffset, sums, 3);
          mins = f32x4.add(mins, f32x4.mul(sums, f32x4.splat(half(s >> 16))));
        }
        wb += blockBytes;
        sc += 4;
        a0 += actBytes;
        a1 += actBytes;
        a2 += actBytes;
        a3 += actBytes;
        d0 += 4;
        d1 += 4;
        d2 += 4;
        d3 += 4;
      }
      const row = out + <usize>m * outStride;
      storeOut(row, bias, n, sum4(acc0) + f32x4.extract_lane(mins, 0), n1);
      if (m + 1 < M) storeOut(row + outStride, bias, n, sum4(acc1) + f32x4.extract_lane(mins, 1), n1);
      if (m + 2 < M) storeOut(row + 2 * outStride, bias, n, sum4(acc2) + f32x4.extract_lane(mins, 2), n1);
      if (m + 3 < M) storeOut(row + 3 * outStride, bias, n, sum4(acc3) + f32x4.extract_lane(mins, 3), n1);
    }
  }
}

/**
 * q4 block b of a row whose blocks start at wb - b * 16 (the matmul's pointer, moved on a block at a time): inside a
 * whole group its four words are 16 bytes apart (see the header), gathered into the block's 16 bytes.
 */
@inline function loadQ4Block(wb: usize, b: i32, nb: i32): v128 {
  if (b >= (nb & ~3)) return v128.load(wb);
  const at = wb - (<usize>(b & 3) << 4) + (<usize>(b & 3) << 2); // the group's start, then the block's first word
  let v = v128.load32_zero(at);
  v = v128.load32_lane(at + 16, v, 1);
  v = v128.load32_lane(at + 32, v, 2);
  return v128.load32_lane(at + 48, v, 3);
}

/** One block's sum_j q_j q_a,j from its weights already widened to four i16x8 and 32 int16 activations at ab. */
@inline function dot4(x0: v128, x1: v128, x2: v128, x3: v128, ab: usize): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(x0, v128.load(ab)), i32x4.dot_i16x8_s(x1, v128.load(ab, 16))),
    i32x4.add(i32x4.dot_i16x8_s(x2, v128.load(ab, 32)), i32x4.dot_i16x8_s(x3, v128.load(ab, 48))),
  );
}

// The other way, for comparison (bench/wasm-matvec.ts): q8 weights widened to f32 in registers and multiplied
// by the f32 activations, the scale applied once a block. Twice the instructions a block of the integer path.
export function matvecQ8F32(out: usize, a: usize, w: usize, scales: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  const nb = blocks(K);
  const full = K >> 5;
  for (let n = n0; n < n1; n++) {
    const row = w + (<usize>n * <usize>nb << 5);
    const sc = scales + (<usize>n * <usize>nb << 2);
    let acc = f32x4.splat(0);
    for (let b = 0; b < full; b++) {
      const wb = row + (<usize>b << 5);
      const x = a + (<usize>b << 7);
      const w0 = v128.load(wb);
      const w1 = v128.load(wb, 16);
      const h0 = i16x8.extend_low_i8x16_s(w0);
      const h1 = i16x8.extend_high_i8x16_s(w0);
      const h2 = i16x8.extend_low_i8x16_s(w1);
      const h3 = i16x8.extend_high_i8x16_s(w1);
      let s0 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h0)), v128.load(x));
      let s1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h0)), v128.load(x, 16));
      s0 = f32x4.add(s0, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h1)), v128.load(x, 32)));
      s1 = f32x4.add(s1, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h1)), v128.load(x, 48)));
      s0 = f32x4.add(s0, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h2)), v128.load(x, 64)));
      s1 = f32x4.add(s1, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h2)), v128.load(x, 80)));
      s0 = f32x4.add(s0, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h3)), v128.load(x, 96)));
      s1 = f32x4.add(s1, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h3)), v128.load(x, 112)));
      acc = f32x4.add(acc, f32x4.mul(f32x4.add(s0, s1), f32x4.splat(load<f32>(sc + (<usize>b << 2)))));
    }
    let sum = sum4(acc);
    if (full < nb) {
      let part: f32 = 0;
      for (let k = full << 5; k < K; k++) part += <f32>load<i8>(row + <usize>k) * load<f32>(a + (<usize>k << 2));
      sum += part * load<f32>(sc + (<usize>full << 2));
    }
    storeOut(out, bias, n, sum, n1);
  }
}
