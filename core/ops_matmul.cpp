// Matrix multiply: forward and backward are each one product per operand, through
// compute_gemm (core/precision.h: sgemm in fp32, bf16 operands in bf16).
#include "core/autograd.h"
#include "core/ops.h"
#include "core/precision.h"

namespace cnn {

// a: [M,K] (or [K,M] when transpose_a), b: [K,N] (or [N,K] when transpose_b) -> [M,N]
Tensor matmul(const Tensor& a_in, const Tensor& b_in, bool transpose_a, bool transpose_b) {
  CNN_CHECK(a_in.dim() == 2 && b_in.dim() == 2, "matmul: expected two matrices, got shapes ",
            shape_str(a_in.shape()), " and ", shape_str(b_in.shape()));
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  int64_t m = transpose_a ? a.size(1) : a.size(0);
  int64_t k = transpose_a ? a.size(0) : a.size(1);
  int64_t kb = transpose_b ? b.size(1) : b.size(0);
  int64_t n = transpose_b ? b.size(0) : b.size(1);
  CNN_CHECK(k == kb, "matmul: inner dimensions differ: ", shape_str(a.shape()),
            transpose_a ? "^T" : "", " x ", shape_str(b.shape()), transpose_b ? "^T" : "", " (",
            k, " vs ", kb, ")");
  Tensor out = Tensor::empty({m, n});
  compute_gemm(transpose_a, transpose_b, m, n, k, 1.0f, a.data(), a.size(1), b.data(),
               b.size(1), 0.0f, out.data(), n);
  bool need_a = a_in.requires_grad(), need_b = b_in.requires_grad();
  Tensor sa = a.detach(), sb = b.detach();
  return record_op("matmul", out, {a_in, b_in},
                   [sa, sb, transpose_a, transpose_b, need_a, need_b, m, n, k](const Tensor& g_in) {
    Tensor g = g_in.contiguous();  // [M,N]
    Tensor ga, gb;
    if (need_a) {
      // dA' = G * op(B)^T, where A' = op(A); stored transposed when transpose_a.
      ga = Tensor::empty(sa.shape());
      if (!transpose_a)  // [M,K] = G[M,N] * op(B)^T[N,K]
        compute_gemm(false, !transpose_b, m, k, n, 1.0f, g.data(), n, sb.data(), sb.size(1),
                     0.0f, ga.data(), k);
      else  // [K,M] = op(B)[K,N] * G^T[N,M]
        compute_gemm(transpose_b, true, k, m, n, 1.0f, sb.data(), sb.size(1), g.data(), n,
                     0.0f, ga.data(), m);
    }
    if (need_b) {
      gb = Tensor::empty(sb.shape());
      if (!transpose_b)  // [K,N] = op(A)^T[K,M] * G[M,N]
        compute_gemm(!transpose_a, false, k, n, m, 1.0f, sa.data(), sa.size(1), g.data(), n,
                     0.0f, gb.data(), n);
      else  // [N,K] = G^T[N,M] * op(A)[M,K]
        compute_gemm(true, transpose_a, n, k, m, 1.0f, g.data(), n, sa.data(), sa.size(1),
                     0.0f, gb.data(), k);
    }
    return std::vector<Tensor>{ga, gb};
  });
}

}  // namespace cnn
