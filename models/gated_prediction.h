// One image's answer with the out-of-distribution gate in front of it (models/ood_gate.h):
// the calibrated probabilities softmax(logits / T), the raw logits, and the gate's
// verdict. What cxr predict / explain and the API report, computed in one place.
#pragma once

#include "models/ood_gate.h"

#include <boost/json/object.hpp>

#include <optional>
#include <span>
#include <vector>

namespace cxr {

struct GatedPrediction {
  std::vector<double> logits;         // raw
  std::vector<double> probabilities;  // softmax(logits / temperature)
  double temperature = 1.0;           // 1 without a gate
  int label = 0;                      // argmax (the temperature does not change it)
  std::optional<OodVerdict> ood;      // nothing without a gate
  bool refused() const { return ood && ood->refused; }
};

// Image i of outputs computed at the gate's temperature (model_outputs(net, x,
// gate_temperature(gate))); `gate` may be null (no sidecar): T = 1 and no verdict.
GatedPrediction gated_prediction(const OodGate* gate, const ModelOutputs& outputs, std::int64_t i);
inline double gate_temperature(const OodGate* gate) {
  return gate ? gate->temperature : 1.0;
}

// {"score": "combined", "value": v, "threshold": t, "refused": b, "forced": f,
//  "scores": {"mahalanobis": .., "thumbnail": .., ...}}; "forced" only when refused.
boost::json::object ood_to_json(const OodVerdict& verdict, bool forced);

// A sentence for people: why the image was refused and how to insist.
std::string refusal_message(const OodVerdict& verdict);

}  // namespace cxr
