// The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al.
// 2017's FID formula, here with any feature extractor):
//   d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2)
// with S the unbiased sample covariances. tr sqrt(S1 S2) is the sum of the singular
// values of C = A B^T / sqrt((n1-1)(n2-1)), A and B the centred feature rows
// (S1 S2 and C C^T share their non-zero eigenvalues), so the work is an
// eigen-decomposition of an n1 x n1 matrix, not of d x d: exact for any d, and cheap
// when there are fewer images than features.
#pragma once

#include <vector>

namespace cxr {

using FeatureRows = std::vector<std::vector<double>>;  // one row per image, all of one length

// Throws cxr::Error when a set has fewer than 2 rows or the lengths differ.
double frechet_distance(const FeatureRows& a, const FeatureRows& b);

// The eigenvalues of a symmetric n x n matrix (row-major), by cyclic Jacobi rotations.
std::vector<double> symmetric_eigenvalues(std::vector<double> matrix, int n);

}  // namespace cxr
