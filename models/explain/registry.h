// The one list of explanation methods: `cxr explain --method`, the API's explain=,
// the web UI's list (GET /api/explain-methods) and `cxr eval-heatmaps` all read it.
// A method has a name (what users type), a family, a one-line description of what
// its map shows, and the function that computes it.
#pragma once

#include "models/explain/explanation.h"

#include <functional>
#include <string>
#include <vector>

namespace cxr {

struct ExplanationMethod {
  std::string name;         // e.g. "hirescam"
  std::string family;       // "cam", "gradient" or "perturbation"
  std::string description;  // one line: what the map shows
  bool smoothable = false;  // SmoothGrad applies (settings.smoothgrad_samples)
  std::function<Explanation(ClassifierNet&, const Tensor& image, int target, const ExplainSettings&)> run;
};

const std::vector<ExplanationMethod>& explanation_methods();
std::vector<std::string> explanation_method_names();

// Throws cxr::Error listing the known names when `name` is not one.
const ExplanationMethod& explanation_method(const std::string& name);

// explanation_method(name).run(...); target -1: the predicted class.
Explanation explain_with(ClassifierNet& net, const Tensor& image, const std::string& method, int target = -1,
                         const ExplainSettings& settings = {});

}  // namespace cxr
