// Named network configurations and the one place a network is built from a config.
//
//   cxr-small   stem conv 32 (stride 2) + 8 MobileNet blocks (64 .. 512, four of
//               stride 2) + GAP + dropout 0.3 + linear: the engine's reference net,
//               0.8 M parameters, trainable on a CPU.
//   kaggle-sep  the backbone of the Kaggle notebook "Beating everything with
//               depthwise convolution" (A. Nain, 2018): two 3x3 convs of 64, max-pool;
//               separable convs 128 x2, max-pool; 256 x3 and 512 x3 with batch norm,
//               each followed by a max-pool; then a head of GAP, dense 512 + ReLU,
//               dropout 0.5 and a dense layer to the classes, instead of the notebook's
//               flatten + dense 1024 (about 100 M parameters). A GPU-sized model.
#pragma once

#include "models/classifier_net.h"

#include <memory>
#include <string>
#include <vector>

namespace cxr {

std::vector<std::string> preset_names();

// Throws cxr::Error listing the known presets when `name` is not one.
NetConfig preset_config(const std::string& name, int num_classes = 4, int input_size = 224);

std::unique_ptr<ClassifierNet> make_net(const NetConfig& config, std::uint64_t dropout_seed = 0);

}  // namespace cxr
