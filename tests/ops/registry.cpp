#include "registry.h"

namespace cxr::testing {

const std::vector<OpSpec>& all_ops() {
  static const std::vector<OpSpec> ops = [] {
    std::vector<OpSpec> all;
    for (auto family :
         {elementwise_ops, shape_ops, reduction_ops, conv_ops, normalisation_ops, pool_ops, classification_ops,
          resampling_ops, activation_ops, channel_ops, segmentation_loss_ops, soft_target_loss_ops})
      for (OpSpec& op : family()) all.push_back(std::move(op));
    return all;
  }();
  return ops;
}

}  // namespace cxr::testing
