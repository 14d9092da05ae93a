// Gradient clipping by global norm (Pascanu et al. 2013): when ||g||_2 over all
// parameters exceeds max_norm, scale every gradient by max_norm / (||g|| + 1e-6),
// as torch.nn.utils.clip_grad_norm_. Returns the norm before clipping.
#pragma once

#include "engine/nn/module.h"

namespace cxr {

double clip_grad_norm(ParameterSet& params, double max_norm);

}  // namespace cxr
