// Spearman's rank correlation of two maps, for the model- and classifier-randomisation
// sanity checks (Adebayo et al. 2018): the Pearson correlation of the mid-ranks (ties
// share their mean rank); NaN when either map is constant.
#pragma once

#include "engine/tensor.h"

namespace cxr {

double spearman(const Tensor& a, const Tensor& b);

}  // namespace cxr
