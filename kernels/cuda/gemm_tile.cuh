// The tiled GEMM engine behind every matrix product of the CUDA backend (.cu only):
//
//   C[b][M x N] = epilogue(sum over k < K of A[b](m, k) * B[b](n, k))   for each batch b
//
// A and B are "operands": objects that fetch element (row, k) of a virtual
// matrix, so the same kernel multiplies plain matrices (gemm.cu, linear) and the
// never-materialised im2col matrices of implicit-GEMM convolution
// (conv_operands.cuh). B is seen as N rows of K, like A, which makes the two
// operands symmetric. The store (C side) applies the epilogue: alpha, beta, row
// bias and ReLU for plain matrices, NCHW scattering plus bias and ReLU for convs.
//
// Decomposition (per thread block of 256 threads):
//   * the block owns a BM x BN tile of C (float: 128 x 128, double: 64 x 64) and
//     walks K in steps of BK = 8, staging an 8-deep slice of A and of B in shared
//     memory as [k][row] (row contiguous), double-buffered: the next slice is
//     fetched into registers while the current one is multiplied, and one
//     __syncthreads per step separates the two buffers;
//   * global -> shared: each thread fetches V = BM*BK/256 consecutive elements
//     (a float4 or double2 where aligned) along the operand's contiguous
//     dimension; k-contiguous operands (row-major A, transposed B) map BM
//     consecutive threads to BM consecutive rows, so the transposing stores into
//     shared memory hit 32 different banks; row-contiguous operands store their
//     vector as is. Rows are padded by 8 elements (row stride = 8 mod 32 words),
//     which the TF32 fragment loads below need to be conflict-free;
//   * SIMT math (float and double): a 16 x 16 thread grid, each thread computing
//     an 8 x 8 (double: 4 x 4) micro-tile from two groups of 4 rows and 4 columns
//     half a tile apart, read from shared memory as float4: warp-wide the A reads
//     are broadcasts and the B reads 16 distinct float4, conflict-free;
//     64 fp32 accumulators per thread, 2 blocks of 256 threads per SM (ptxas
//     caps the float kernels at 128 registers and spills a few words; they would
//     take ~150 unconstrained);
//   * TF32 math (float only, sm_80+): 8 warps as 2 x 4, each warp a 64 x 32 tile
//     of 4 x 4 mma.sync.m16n8k8 tensor-core products, fragments read straight from
//     the [k][row] layout (bank = 8*(lane%4) + lane/4, all distinct); operands are
//     rounded to TF32 (cvt.rna) once, when stored to shared memory;
//   * grid: blockIdx.x enumerates output tiles in groups of 8 tile rows (so
//     concurrently running blocks share A and B tiles in L2), blockIdx.y is the
//     K split, blockIdx.z the batch.
// Split-K: when the tiles alone cannot fill the GPU (few outputs, long K, e.g. a
// weight gradient summing over every pixel of the batch), K is cut into S ranges;
// each writes raw partial sums to a workspace and a second kernel adds the S
// partials in split order and applies the store's epilogue. No atomics: every
// result is bit-identical run to run on a given GPU.
// Edges: operands return 0 outside [0, rows) x [0, k_end), stores skip elements
// outside C, so any M, N, K (including K = 0) works.
#pragma once

#include "kernels/cuda/device_utils.cuh"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace cxr::cuda::gemm_detail {

using i64 = std::int64_t;

constexpr int kThreads = 256;
constexpr int kPad = 8;  // shared-memory row padding, in elements

enum class Math { Simt, Tf32 };

template <class T>
struct Tile;
template <>
struct Tile<float> {
  static constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
};
template <>
struct Tile<double> {
  static constexpr int BM = 64, BN = 64, BK = 8, TM = 4, TN = 4;
};
// Elements each thread fetches per operand and K step.
template <class T>
constexpr int kFetch = Tile<T>::BM* Tile<T>::BK / kThreads;

template <class T>
__device__ __forceinline__ void zero_fill(T* v, int n) {
  for (int i = 0; i < n; ++i) v[i] = T(0);
}

// ---- plain matrices -----------------------------------------------------------------------

// Row r, column k of a row-major matrix (element at r*ld + k), or of the
// transpose of one (trans: element at k*ld + r), batch b at offset b*batch_stride.
template <class T>
struct MatrixOperand {
  static constexpr int V = kFetch<T>;
  const T* p;
  i64 ld, batch_stride, rows;
  bool trans;

  __device__ bool contiguous_k() const { return !trans; }
  struct Cursor {
    const T* base;
  };
  __device__ Cursor cursor(i64 b, i64) const { return {p + b * batch_stride}; }
  // V consecutive k at row r (!trans) or V consecutive rows at k (trans).
  __device__ void fetch(const Cursor& c, i64 r, i64 k, i64 k_end, T (&v)[V]) const {
    if (!trans) {
      if (r >= rows) return zero_fill(v, V);
      const T* q = c.base + r * ld + k;
      if (k + V <= k_end && is_aligned<V>(q)) return load_vec(v, q);
#pragma unroll
      for (int i = 0; i < V; ++i) v[i] = k + i < k_end ? __ldg(q + i) : T(0);
    } else {
      if (k >= k_end) return zero_fill(v, V);
      const T* q = c.base + k * ld + r;
      if (r + V <= rows && is_aligned<V>(q)) return load_vec(v, q);
#pragma unroll
      for (int i = 0; i < V; ++i) v[i] = r + i < rows ? __ldg(q + i) : T(0);
    }
  }
};

// C = relu?(alpha * acc + beta * C + row_bias[m]) as the CPU GemmEpilogue; C is
// not read when beta == 0 (it may hold NaN).
template <class T>
struct MatrixStore {
  T* c;
  i64 ldc, batch_stride, M, N;
  T alpha, beta;
  const T* row_bias;
  bool relu;

  __device__ T finish(T acc, const T* q, T bias) const {
    T v = beta == T(0) ? alpha * acc : fma(beta, *q, alpha * acc);
    v += bias;
    return relu && !(v > T(0)) ? T(0) : v;
  }
  template <int V>
  __device__ void put(i64 b, i64 m, i64 n, const T (&v)[V]) const {
    if (m >= M || n >= N) return;
    T* q = c + b * batch_stride + m * ldc + n;
    const T bias = row_bias ? row_bias[m] : T(0);
    if (n + V <= N && is_aligned<V>(q)) {
      T old[V] = {};
      if (beta != T(0)) load_vec_coherent(old, q);
      T out[V];
#pragma unroll
      for (int i = 0; i < V; ++i) out[i] = finish(v[i], old + i, bias);
      return store_vec(q, out);
    }
#pragma unroll
    for (int i = 0; i < V; ++i)
      if (n + i < N) q[i] = finish(v[i], q + i, bias);
  }
};

// Raw split-K partial sums: partials[((b*splits + s)*M + m)*N + n].
template <class T>
struct PartialStore {
  T* partials;
  i64 M, N;
  int splits;

  template <int V>
  __device__ void put(i64 b, int s, i64 m, i64 n, const T (&v)[V]) const {
    if (m >= M || n >= N) return;
    T* q = partials + ((b * splits + s) * M + m) * N + n;
    if (n + V <= N && is_aligned<V>(q)) return store_vec(q, v);
#pragma unroll
    for (int i = 0; i < V; ++i)
      if (n + i < N) q[i] = v[i];
  }
};

// ---- the kernel ---------------------------------------------------------------------------

__device__ __forceinline__ float to_tf32(float x) {
  unsigned int bits;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(bits) : "f"(x));
  return __uint_as_float(bits);
}

// d[0..4) += a b for one m16n8k8 tile (fragment layouts as in the PTX ISA for .tf32).
__device__ __forceinline__ void mma_tf32(float* d, const unsigned int (&a)[4], const unsigned int (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap();  // the launcher refuses TF32 below compute capability 8.0
#endif
}

// One operand's share of a K step: which (row, k) this thread fetches, and where
// the values go in shared memory ([BK][BR + kPad], row contiguous).
template <class T, int BR, class Op>
struct Stager {
  static constexpr int V = kFetch<T>;
  static constexpr int BK = Tile<T>::BK;
  static constexpr int S = BR + kPad;
  bool kc;      // k-contiguous operand
  int r_local;  // first row within the tile
  int k_local;  // first k within the step
  typename Op::Cursor cursor;

  __device__ Stager(const Op& op, i64 b, i64 row0) {
    kc = op.contiguous_k();
    const int t = threadIdx.x;
    r_local = kc ? t % BR : (t % (BR / V)) * V;
    k_local = kc ? (t / BR) * V : t / (BR / V);
    cursor = op.cursor(b, row0 + r_local);
  }
  __device__ void fetch(const Op& op, i64 row0, i64 k0, i64 k_end, T (&v)[V]) const {
    op.fetch(cursor, row0 + r_local, k0 + k_local, k_end, v);
  }
  template <Math MATH>
  __device__ void stage(T* s, T (&v)[V]) const {
    if constexpr (MATH == Math::Tf32) {
#pragma unroll
      for (int i = 0; i < V; ++i) v[i] = to_tf32(v[i]);
    }
    if (kc) {
#pragma unroll
      for (int i = 0; i < V; ++i) s[(k_local + i) * S + r_local] = v[i];
    } else {
      store_vec(s + k_local * S + r_local, v);
    }
  }
};

template <class T, Math MATH, class A, class B, class Store>
__global__ void __launch_bounds__(kThreads, 2)
    gemm_tile_kernel(A a, B b, Store store, PartialStore<T> partial, i64 M, i64 N, i64 K, int tiles_m, int tiles_n,
                     i64 k_per_split, i64 batch0) {
  using Cfg = Tile<T>;
  constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Cfg::BK, V = kFetch<T>;
  constexpr int SA = BM + kPad, SB = BN + kPad;
  static_assert(MATH == Math::Simt || (sizeof(T) == 4 && BM == 128 && BN == 128 && BK == 8),
                "TF32 needs the float tile");
  __shared__ __align__(16) T As[2][BK * SA];
  __shared__ __align__(16) T Bs[2][BK * SB];

  // Tile (tm, tn) from blockIdx.x, in groups of 8 tile rows.
  constexpr int kGroup = 8;
  const i64 pid = blockIdx.x;
  const i64 per_group = static_cast<i64>(kGroup) * tiles_n;
  const i64 first_m = pid / per_group * kGroup;
  const i64 group_rows = tiles_m - first_m < kGroup ? tiles_m - first_m : kGroup;
  const i64 tm = first_m + pid % per_group % group_rows, tn = pid % per_group / group_rows;
  const i64 m0 = tm * BM, n0 = tn * BN;
  const int split = blockIdx.y;
  const i64 batch = batch0 + blockIdx.z;
  const i64 k_begin = split * k_per_split, k_end = K < k_begin + k_per_split ? K : k_begin + k_per_split;
  const i64 steps = k_end > k_begin ? (k_end - k_begin + BK - 1) / BK : 0;

  const Stager<T, BM, A> sa(a, batch, m0);
  const Stager<T, BN, B> sb(b, batch, n0);

  // Accumulators: SIMT TM x TN per thread; TF32 4 x 4 mma tiles of 4 floats.
  constexpr int kAcc = MATH == Math::Simt ? Cfg::TM * Cfg::TN : 64;
  T acc[kAcc];
#pragma unroll
  for (int i = 0; i < kAcc; ++i) acc[i] = T(0);

  T va[V], vb[V];
  if (steps > 0) {
    sa.fetch(a, m0, k_begin, k_end, va);
    sb.fetch(b, n0, k_begin, k_end, vb);
    sa.template stage<MATH>(As[0], va);
    sb.template stage<MATH>(Bs[0], vb);
  }
  __syncthreads();

  for (i64 step = 0; step < steps; ++step) {
    const int cur = static_cast<int>(step & 1);
    const bool more = step + 1 < steps;
    if (more) {  // next slice into registers while this one is multiplied
      const i64 k0 = k_begin + (step + 1) * BK;
      sa.fetch(a, m0, k0, k_end, va);
      sb.fetch(b, n0, k0, k_end, vb);
    }
    const T* as = As[cur];
    const T* bs = Bs[cur];
    if constexpr (MATH == Math::Simt) {
      constexpr int TM = Cfg::TM, TN = Cfg::TN, GM = TM / 4, GN = TN / 4;
      const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        T ra[TM], rb[TN];
#pragma unroll
        for (int g = 0; g < GM; ++g) {
          T q[4];
          load_vec_coherent(q, as + kk * SA + g * (BM / GM) + ty * 4);
#pragma unroll
          for (int i = 0; i < 4; ++i) ra[g * 4 + i] = q[i];
        }
#pragma unroll
        for (int g = 0; g < GN; ++g) {
          T q[4];
          load_vec_coherent(q, bs + kk * SB + g * (BN / GN) + tx * 4);
#pragma unroll
          for (int j = 0; j < 4; ++j) rb[g * 4 + j] = q[j];
        }
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i * TN + j] = fma(ra[i], rb[j], acc[i * TN + j]);
      }
    } else {
      const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
      const int gid = lane / 4, tig = lane % 4, wm = warp / 4, wn = warp % 4;
      unsigned int af[4][4], bf[4][2];
#pragma unroll
      for (int mt = 0; mt < 4; ++mt) {
        const float* p = reinterpret_cast<const float*>(as) + wm * 64 + mt * 16 + gid;
        af[mt][0] = __float_as_uint(p[tig * SA]);
        af[mt][1] = __float_as_uint(p[tig * SA + 8]);
        af[mt][2] = __float_as_uint(p[(tig + 4) * SA]);
        af[mt][3] = __float_as_uint(p[(tig + 4) * SA + 8]);
      }
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) {
        const float* p = reinterpret_cast<const float*>(bs) + wn * 32 + nt * 8 + gid;
        bf[nt][0] = __float_as_uint(p[tig * SB]);
        bf[nt][1] = __float_as_uint(p[(tig + 4) * SB]);
      }
#pragma unroll
      for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) mma_tf32(acc + (mt * 4 + nt) * 4, af[mt], bf[nt]);
    }
    if (more) {  // the other buffer was last read before the previous __syncthreads
      sa.template stage<MATH>(As[cur ^ 1], va);
      sb.template stage<MATH>(Bs[cur ^ 1], vb);
    }
    __syncthreads();
  }

  // Epilogue: raw partials when K is split, else the store's epilogue.
  auto emit = [&](i64 m, i64 n, const auto& v) {
    if (partial.partials)
      partial.put(batch - batch0, split, m, n, v);
    else
      store.put(batch, m, n, v);
  };
  if constexpr (MATH == Math::Simt) {
    constexpr int TM = Cfg::TM, TN = Cfg::TN, GM = TM / 4, GN = TN / 4;
    const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const i64 m = m0 + (i / 4) * (BM / GM) + ty * 4 + i % 4;
#pragma unroll
      for (int g = 0; g < GN; ++g) {
        T v[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) v[j] = acc[i * TN + g * 4 + j];
        emit(m, n0 + g * (BN / GN) + tx * 4, v);
      }
    }
  } else {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int gid = lane / 4, tig = lane % 4, wm = warp / 4, wn = warp % 4;
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) {
        const T* d = acc + (mt * 4 + nt) * 4;
        const i64 m = m0 + wm * 64 + mt * 16 + gid, n = n0 + wn * 32 + nt * 8 + tig * 2;
        const T top[2] = {d[0], d[1]}, bottom[2] = {d[2], d[3]};
        emit(m, n, top);
        emit(m + 8, n, bottom);
      }
  }
}

// out[b] = store(sum over s of partials[b][s]), the splits added in order; one
// thread per 4 consecutive columns.
template <class T, class Store>
__global__ void __launch_bounds__(kThreads)
    split_k_reduce_kernel(Store store, const T* partials, i64 M, i64 N, int splits, i64 batches, i64 batch0) {
  const i64 quads = (N + 3) / 4;
  const i64 total = batches * M * quads;
  for (i64 i = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<i64>(gridDim.x) * blockDim.x) {
    const i64 n = i % quads * 4, m = i / quads % M, b = i / quads / M;
    T v[4] = {};
    for (int s = 0; s < splits; ++s) {
      const T* q = partials + ((b * splits + s) * M + m) * N + n;
#pragma unroll
      for (int j = 0; j < 4; ++j)
        if (n + j < N) v[j] += q[j];
    }
    store.put(batch0 + b, m, n, v);
  }
}

// ---- host side ----------------------------------------------------------------------------

// C[b] = store(A[b] B[b]^T) for b < batches, A: M rows, B: N rows, both K deep.
template <class T, Math MATH, class A, class B, class Store>
void launch_gemm(const A& a, const B& b, const Store& store, i64 M, i64 N, i64 K, i64 batches) {
  using Cfg = Tile<T>;
  if (M <= 0 || N <= 0 || batches <= 0) return;
  if constexpr (MATH == Math::Tf32)
    CXR_CHECK(compute_capability_major() >= 8, "gemm: TF32 tensor cores need compute capability 8.0 or newer");
  const i64 tiles_m = (M + Cfg::BM - 1) / Cfg::BM, tiles_n = (N + Cfg::BN - 1) / Cfg::BN;
  CXR_CHECK(tiles_m * tiles_n < (i64{1} << 31) && tiles_m < (i64{1} << 31) && tiles_n < (i64{1} << 31),
            "gemm: {} x {} output is too large for one launch", M, N);
  constexpr i64 kMaxBatch = 65535;  // gridDim.z
  const i64 chunk = std::min(batches, kMaxBatch);

  // Split K when the tiles cannot give every SM two blocks; each split keeps at
  // least 8 K steps so the partial traffic stays small next to the products.
  const i64 sms = sm_count();
  const i64 tiles = tiles_m * tiles_n * chunk;
  const i64 k_steps = (K + Cfg::BK - 1) / Cfg::BK;
  i64 splits = 1;
  if (tiles < 2 * sms && k_steps >= 16)
    splits = std::clamp<i64>(std::min((2 * sms + tiles - 1) / tiles, k_steps / 8), 1, 256);
  const i64 k_per_split = (k_steps + splits - 1) / splits * Cfg::BK;
  if (K > 0) splits = (K + k_per_split - 1) / k_per_split;

  std::optional<DeviceArray<T>> workspace;
  if (splits > 1) workspace.emplace(chunk * splits * M * N);
  const PartialStore<T> partial{workspace ? workspace->get() : nullptr, M, N, static_cast<int>(splits)};
  for (i64 b0 = 0; b0 < batches; b0 += kMaxBatch) {
    const i64 nb = std::min(kMaxBatch, batches - b0);
    const dim3 grid(static_cast<unsigned>(tiles_m * tiles_n), static_cast<unsigned>(splits), static_cast<unsigned>(nb));
    gemm_tile_kernel<T, MATH, A, B, Store><<<grid, kThreads, 0, stream()>>>(
        a, b, store, partial, M, N, K, static_cast<int>(tiles_m), static_cast<int>(tiles_n), k_per_split, b0);
    CXR_CUDA_LAUNCH_CHECK();
    if (splits > 1) {
      const i64 work = nb * M * ((N + 3) / 4);
      const unsigned blocks = static_cast<unsigned>(std::min<i64>(blocks_for(work, kThreads), 32 * sms));
      split_k_reduce_kernel<T, Store>
          <<<blocks, kThreads, 0, stream()>>>(store, partial.partials, M, N, static_cast<int>(splits), nb, b0);
      CXR_CUDA_LAUNCH_CHECK();
    }
  }
}

}  // namespace cxr::cuda::gemm_detail
