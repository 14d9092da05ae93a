#include "models/gated_prediction.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>

namespace cxr {

GatedPrediction gated_prediction(const OodGate* gate, const ModelOutputs& outputs, std::int64_t i) {
  GatedPrediction p;
  const auto logits = outputs.logits_of(i), probabilities = outputs.probabilities_of(i);
  p.logits.assign(logits.begin(), logits.end());
  p.probabilities.assign(probabilities.begin(), probabilities.end());
  p.temperature = gate_temperature(gate);
  p.label = static_cast<int>(std::max_element(p.logits.begin(), p.logits.end()) - p.logits.begin());
  if (gate) p.ood = gate->verdict(outputs, i);
  return p;
}

boost::json::object ood_to_json(const OodVerdict& v, bool forced) {
  boost::json::object scores;
  for (OodScore s : kOodScores) scores[ood_score_name(s)] = v.all[s];
  boost::json::object out{{"score", ood_score_name(v.score)},
                          {"value", v.value},
                          {"threshold", v.threshold},
                          {"refused", v.refused},
                          {"scores", std::move(scores)}};
  if (v.refused) out["forced"] = forced;
  return out;
}

std::string refusal_message(const OodVerdict& v) {
  return fmt::format(
      "this does not look like a frontal chest X-ray like the ones the model learnt from ({} score {:.4g} above "
      "the threshold {:.4g}), so no prediction is given",
      ood_score_name(v.score), v.value, v.threshold);
}

}  // namespace cxr
