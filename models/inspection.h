// `cxr inspect`: what happens inside a classifier for one image. For every layer
// (ClassifierNet::layer_names()) the activation A it outputs and the gradient
// dJ/dA of an objective J, and for every parameter its values and dJ/dparameter.
//
// J is the logit of one class (the score Grad-CAM explains; by default the predicted
// class) or, given a label, the cross-entropy loss of the image for that label (what
// a training step would descend). The net runs in evaluation mode, as for
// prediction: batch norm uses its running statistics and dropout is off.
//
// How each number is computed: A_l = forward_until(x, l) without a graph (as
// Grad-CAM does), then dJ/dA_l by the engine's autograd from A_l as a leaf through
// forward_after(A_l, l); so the last block's gradient is exactly Grad-CAM's. The
// parameter gradients come from one backward pass of the whole net into the
// parameter set's gradient buffer (which is overwritten).
#pragma once

#include "models/classifier_net.h"
#include "models/value_stats.h"

#include <string>
#include <vector>

namespace cxr {

struct InspectTarget {
  int class_index = -1;  // J = logit of this class; -1: the predicted class
  int label = -1;        // >= 0: J = cross-entropy loss for this label instead
};

struct LayerInspection {
  std::string name;  // "stem", "blocks.0", ...
  Shape shape;       // the activation's shape [1, C, h, w]
  ValueStats activation, gradient;
  Tensor activation_maps, gradient_maps;  // [C, h, w] on the CPU, the net's dtype
};

struct ParameterInspection {
  std::string name;  // dotted, e.g. "blocks.2.pointwise.weight"
  Shape shape;
  ValueStats value, gradient;
};

struct Inspection {
  bool loss = false;     // J is the loss (true) or a class logit (false)
  int target_class = 0;  // the class of the logit, or the label of the loss
  double objective = 0;  // J
  std::vector<double> logits, probabilities;
  std::vector<LayerInspection> layers;
  std::vector<ParameterInspection> parameters;
};

// image: [1, in, H, W] (copied to the net's device). `params` must be the net's
// parameter set; its gradients are overwritten with dJ/dparameters.
Inspection inspect(ClassifierNet& net, ParameterSet& params, const Tensor& image, const InspectTarget& target,
                   int histogram_bins = 32);

}  // namespace cxr
