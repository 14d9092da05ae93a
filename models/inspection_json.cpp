#include "models/inspection_json.h"

#include "base/check.h"

#include <boost/json.hpp>

namespace cxr {

namespace json = boost::json;

json::object to_json(const ValueStats& s) {
  return {{"count", s.count},
          {"nonfinite", s.nonfinite},
          {"mean", s.mean},
          {"std", s.std},
          {"min", s.min},
          {"max", s.max},
          {"zero_fraction", s.zero_fraction},
          {"norm", s.norm},
          {"histogram",
           {{"lo", s.histogram.lo}, {"hi", s.histogram.hi}, {"counts", json::value_from(s.histogram.counts)}}}};
}

json::object to_json(const Inspection& r, const std::vector<std::string>& class_names) {
  CXR_CHECK(class_names.size() == r.logits.size(), "inspect: {} class names for {} logits", class_names.size(),
            r.logits.size());
  json::object probabilities;
  for (std::size_t c = 0; c < class_names.size(); ++c) probabilities[class_names[c]] = r.probabilities[c];
  json::array layers, parameters;
  for (const LayerInspection& l : r.layers)
    layers.push_back(json::object{{"name", l.name},
                                  {"shape", json::value_from(l.shape)},
                                  {"activation", to_json(l.activation)},
                                  {"gradient", to_json(l.gradient)}});
  for (const ParameterInspection& p : r.parameters)
    parameters.push_back(json::object{{"name", p.name},
                                      {"shape", json::value_from(p.shape)},
                                      {"value", to_json(p.value)},
                                      {"gradient", to_json(p.gradient)}});
  return {{"objective", r.loss ? "loss" : "score"},
          {"class", class_names[static_cast<std::size_t>(r.target_class)]},
          {"objective_value", r.objective},
          {"logits", json::value_from(r.logits)},
          {"probabilities", std::move(probabilities)},
          {"layers", std::move(layers)},
          {"parameters", std::move(parameters)}};
}

}  // namespace cxr
